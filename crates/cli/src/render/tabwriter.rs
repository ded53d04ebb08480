//! Go's text/tabwriter as Docker configures it for tables (minwidth 10, tabwidth 1, padding 3,
//! spaces): cells end at `\t`, a column is as wide as its widest cell in a block of lines that
//! have it, and the last cell of a line is never padded.

const MIN_WIDTH: usize = 10;
const PADDING: usize = 3;

/// Aligns tab-separated `text` (lines ending in `\n`) with Docker's table settings.
pub fn align(text: &str) -> String {
    align_min(text, MIN_WIDTH)
}

/// As [`align`] with another minimum column width (`top` uses 20).
pub fn align_min(text: &str, min_width: usize) -> String {
    let lines: Vec<Vec<&str>> = text
        .split_terminator('\n')
        .map(|l| l.split('\t').collect())
        .collect();
    let mut out = String::with_capacity(text.len() * 2);
    let mut widths = Vec::new();
    format(&lines, 0, lines.len(), min_width, &mut widths, &mut out);
    out
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn format(
    lines: &[Vec<&str>],
    mut line0: usize,
    line1: usize,
    min_width: usize,
    widths: &mut Vec<usize>,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        // A block of lines that all have a terminated cell in this column starts here.
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut w = min_width;
        while this < line1 && column + 1 < lines[this].len() {
            w = w.max(width(lines[this][column]) + PADDING);
            this += 1;
        }
        widths.push(w);
        format(lines, line0, this, min_width, widths, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, line1, widths, out);
}

fn write_lines(lines: &[Vec<&str>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for line in &lines[from..to] {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j + 1 < line.len() {
                let w = widths.get(j).copied().unwrap_or(0);
                out.push_str(&" ".repeat(w.saturating_sub(width(cell))));
            }
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_like_docker_ps() {
        let t = "CONTAINER ID\tIMAGE\tNAMES\nabc\tbusybox:latest\tweb\n";
        assert_eq!(
            align(t),
            "CONTAINER ID   IMAGE            NAMES\nabc            busybox:latest   web\n"
        );
    }

    #[test]
    fn short_columns_get_the_minimum_width() {
        assert_eq!(align("A\tB\nx\ty\n"), "A         B\nx         y\n");
    }

    #[test]
    fn header_only_and_ragged_lines() {
        assert_eq!(align("DRIVER\tVOLUME NAME\n"), "DRIVER    VOLUME NAME\n");
        assert_eq!(align("a\tb\tc\nd\n"), "a         b         c\nd\n");
    }
}
