//! Image commands: images, pull, push, tag, rmi, save, load, import, history.

use std::io::IsTerminal;

use anyhow::{Result, anyhow};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::HeaderName;
use serde_json::{Value, json};

use super::{Ctx, Outcome, auth, container::body_to_output, filters_json, for_each, out};
use crate::args::*;
use crate::client::{LineReader, ReqBody, seg};
use crate::render::{self, human, progress::Progress, short_id};
use crate::types::{ImageSummary, JsonMessage};

/// Splits `repo[:tag]` / `repo@digest` into `(repo, tag-or-digest)`; the tag is empty when none.
pub fn split_ref(r: &str) -> (String, String) {
    if let Some((repo, digest)) = r.split_once('@') {
        return (repo.to_string(), digest.to_string());
    }
    match r.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (r.to_string(), String::new()),
    }
}

/// `busybox` → `busybox:latest` (as Docker names it in messages).
pub fn normalize(image: &str) -> String {
    let (repo, tag) = split_ref(image);
    if tag.is_empty() {
        format!("{repo}:latest")
    } else if image.contains('@') {
        image.to_string()
    } else {
        format!("{repo}:{tag}")
    }
}

/// `docker.io/library/busybox:latest` for Docker Hub short names, unchanged otherwise.
pub fn full_name(image: &str) -> String {
    let n = normalize(image);
    if auth::registry_of(&n) != "docker.io" || n.starts_with("docker.io/") {
        return n;
    }
    if n.contains('/') {
        format!("docker.io/{n}")
    } else {
        format!("docker.io/library/{n}")
    }
}

fn registry_auth() -> HeaderName {
    HeaderName::from_static("x-registry-auth")
}

/// Renders a JSON-message stream (pull, push, load, import, build) to stdout or stderr.
pub async fn render_stream(
    resp: hyper::Response<hyper::body::Incoming>,
    to_stderr: bool,
    quiet: bool,
) -> Result<Vec<Value>> {
    let (tty, width) = if to_stderr {
        (
            std::io::stderr().is_terminal(),
            crate::tty::size(std::io::stderr()).map_or(80, |s| s.1),
        )
    } else {
        (
            std::io::stdout().is_terminal(),
            crate::tty::size(std::io::stdout()).map_or(80, |s| s.1),
        )
    };
    let sink: Box<dyn std::io::Write> = match (quiet, to_stderr) {
        (true, _) => Box::new(std::io::sink()),
        (false, true) => Box::new(std::io::stderr()),
        (false, false) => Box::new(std::io::stdout()),
    };
    let mut progress = Progress::new(sink, tty && !quiet, width);
    let mut lines = LineReader::new(resp);
    while let Some(line) = lines.next_line().await? {
        let jm: JsonMessage = serde_json::from_slice(&line)?;
        progress.message(&jm).map_err(|e| anyhow!("{e}"))?;
    }
    Ok(std::mem::take(&mut progress.aux))
}

async fn pull_stream(
    ctx: &Ctx,
    image: &str,
    platform: Option<&str>,
    all_tags: bool,
    to_stderr: bool,
    quiet: bool,
) -> Result<()> {
    // The docker CLI sends the fully qualified name (`docker.io/library/busybox`).
    let (repo, tag) = split_ref(image);
    let repo = split_ref(&full_name(&repo)).0;
    let tag = if tag.is_empty() && !all_tags {
        "latest".to_string()
    } else {
        tag
    };
    let resp = ctx
        .client
        .post("/images/create")
        .query("fromImage", &repo)
        .query_opt("tag", (!tag.is_empty()).then_some(&tag))
        .query_opt("platform", platform)
        .header(
            registry_auth(),
            auth::registry_auth_header(&ctx.config_dir, image),
        )
        .send()
        .await?;
    render_stream(resp, to_stderr, quiet).await?;
    Ok(())
}

/// The pull `run`/`create` do on a missing image: progress on stderr.
pub async fn pull_quietly(
    ctx: &Ctx,
    image: &str,
    platform: Option<&str>,
    quiet: bool,
) -> Result<()> {
    pull_stream(ctx, image, platform, false, true, quiet).await
}

pub async fn pull(ctx: &Ctx, a: &PullArgs) -> Outcome {
    if a.all_tags && a.name.contains(':') && !a.name.rsplit(':').next().unwrap_or("").contains('/')
    {
        anyhow::bail!("tag can't be used with --all-tags/-a");
    }
    pull_stream(
        ctx,
        &a.name,
        a.platform.as_deref(),
        a.all_tags,
        false,
        a.quiet,
    )
    .await?;
    out(&format!("{}\n", full_name(&a.name)));
    Ok(0)
}

pub async fn push(ctx: &Ctx, a: &PushArgs) -> Outcome {
    let (repo, tag) = split_ref(&a.name);
    let resp = ctx
        .client
        .post(&format!("/images/{}/push", seg(&repo)))
        .query_opt("tag", (!tag.is_empty() && !a.all_tags).then_some(&tag))
        .header(
            registry_auth(),
            auth::registry_auth_header(&ctx.config_dir, &a.name),
        )
        .send()
        .await?;
    render_stream(resp, false, a.quiet).await?;
    if a.quiet {
        out(&format!("{}\n", a.name));
    }
    Ok(0)
}

pub async fn tag(ctx: &Ctx, a: &TagArgs) -> Outcome {
    let (repo, tag) = split_ref(&a.target);
    ctx.client
        .post(&format!("/images/{}/tag", seg(&a.source)))
        .query("repo", repo)
        .query("tag", if tag.is_empty() { "latest".into() } else { tag })
        .ok()
        .await?;
    Ok(0)
}

pub async fn rmi(ctx: &Ctx, a: &RmiArgs) -> Outcome {
    let c = &ctx.client;
    for_each(&a.images, |name| async move {
        let items: Vec<Value> = c
            .delete(&format!("/images/{}", seg(&name)))
            .flag("force", a.force)
            .flag("noprune", a.no_prune)
            .json_response()
            .await?;
        let mut lines = Vec::new();
        for i in items {
            if let Some(u) = i["Untagged"].as_str() {
                lines.push(format!("Untagged: {u}"));
            }
            if let Some(d) = i["Deleted"].as_str() {
                lines.push(format!("Deleted: {d}"));
            }
        }
        Ok((!lines.is_empty()).then(|| lines.join("\n")))
    })
    .await
}

pub async fn save(ctx: &Ctx, a: &SaveArgs) -> Outcome {
    if a.output.is_none() && std::io::stdout().is_terminal() {
        anyhow::bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let mut req = ctx.client.get("/images/get");
    for n in &a.images {
        req = req.query("names", n);
    }
    body_to_output(req.send().await?, a.output.as_deref()).await?;
    Ok(0)
}

/// A request body streamed from a file or stdin in 32 KiB chunks, read on a blocking thread.
pub fn reader_body(mut reader: Box<dyn std::io::Read + Send>) -> ReqBody {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx
                        .blocking_send(Ok(Bytes::copy_from_slice(&buf[..n])))
                        .is_err()
                    {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|item| (item.map(hyper::body::Frame::data), rx))
    });
    http_body_util::StreamBody::new(stream).boxed_unsync()
}

fn input(path: Option<&std::path::Path>, what: &str) -> Result<Box<dyn std::io::Read + Send>> {
    match path {
        Some(p) if p.as_os_str() != "-" => Ok(Box::new(
            std::fs::File::open(p).map_err(|e| anyhow!("open {}: {e}", p.display()))?,
        )),
        _ => {
            if std::io::stdin().is_terminal() {
                anyhow::bail!("requested {what} from stdin, but stdin is empty");
            }
            Ok(Box::new(std::io::stdin()))
        }
    }
}

pub async fn load(ctx: &Ctx, a: &LoadArgs) -> Outcome {
    let body = reader_body(input(a.input.as_deref(), "load")?);
    let resp = ctx
        .client
        .post("/images/load")
        .flag("quiet", a.quiet || !std::io::stdout().is_terminal())
        .body(body, "application/x-tar")
        .send()
        .await?;
    render_stream(resp, false, false).await?;
    Ok(0)
}

pub async fn import(ctx: &Ctx, a: &ImportArgs) -> Outcome {
    let (repo, tag) = a.reference.as_deref().map(split_ref).unwrap_or_default();
    let is_url = a.source.starts_with("http://") || a.source.starts_with("https://");
    let mut req = ctx
        .client
        .post("/images/create")
        .query("fromSrc", if is_url { a.source.as_str() } else { "-" })
        .query_opt("message", a.message.as_deref())
        .query_opt("platform", a.platform.as_deref())
        .query_opt("repo", (!repo.is_empty()).then_some(&repo))
        .query_opt("tag", (!tag.is_empty()).then_some(&tag));
    for c in &a.change {
        req = req.query("changes", c);
    }
    if !is_url {
        let path = std::path::Path::new(&a.source);
        req = req.body(
            reader_body(input(Some(path), "import")?),
            "application/x-tar",
        );
    }
    let resp = req.send().await?;
    render_stream(resp, false, false).await?;
    Ok(0)
}

fn image_headers() -> Value {
    json!({
        "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID",
        "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
        "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE",
    })
}

/// The rows `docker images` shows for one image: one per tag, `<none>` when untagged.
pub fn image_rows(i: &ImageSummary, trunc: bool) -> Vec<Value> {
    let id = if trunc { short_id(&i.id) } else { i.id.clone() };
    let digests = i.repo_digests.clone().unwrap_or_default();
    let digest_for = |repo: &str| {
        digests
            .iter()
            .find_map(|d| {
                d.split_once('@')
                    .filter(|(r, _)| *r == repo)
                    .map(|(_, d)| d.to_string())
            })
            .unwrap_or_else(|| "<none>".into())
    };
    let mut pairs: Vec<(String, String, String)> = Vec::new();
    for t in i
        .repo_tags
        .iter()
        .flatten()
        .filter(|t| *t != "<none>:<none>")
    {
        let (repo, tag) = split_ref(t);
        let d = digest_for(&repo);
        pairs.push((repo, tag, d));
    }
    if pairs.is_empty() {
        for d in &digests {
            if let Some((repo, dg)) = d.split_once('@') {
                pairs.push((repo.to_string(), "<none>".into(), dg.to_string()));
            }
        }
    }
    if pairs.is_empty() {
        pairs.push(("<none>".into(), "<none>".into(), "<none>".into()));
    }
    pairs
        .into_iter()
        .map(|(repo, tag, digest)| {
            json!({
                "Repository": repo, "Tag": tag, "Digest": digest, "ID": id,
                "CreatedSince": human::since(i.created),
                "CreatedAt": human::unix_to_go_string(i.created),
                "Size": human::human_size_prec(i.size as f64, 3),
                "VirtualSize": human::human_size_prec(i.size as f64, 3),
                "SharedSize": if i.shared_size < 0 { "N/A".to_string() } else { human::human_size_prec(i.shared_size as f64, 3) },
                "UniqueSize": if i.shared_size < 0 { "N/A".to_string() } else { human::human_size_prec((i.size - i.shared_size) as f64, 3) },
                "Containers": if i.containers < 0 { "N/A".to_string() } else { i.containers.to_string() },
            })
        })
        .collect()
}

pub async fn images(ctx: &Ctx, a: &ImagesArgs) -> Outcome {
    let mut filters = a.filter.clone();
    if let Some(r) = &a.reference {
        filters.push(format!("reference={r}"));
    }
    let mut list: Vec<ImageSummary> = ctx
        .client
        .get("/images/json")
        .flag("all", a.all)
        .query_opt("filters", filters_json(&filters)?)
        .json_response()
        .await?;
    list.sort_by_key(|i| std::cmp::Reverse(i.created));
    let rows: Vec<Value> = list
        .iter()
        .flat_map(|i| image_rows(i, !a.no_trunc))
        .collect();
    let default = if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let format = if a.quiet {
        "{{.ID}}"
    } else {
        a.format.as_deref().unwrap_or("")
    };
    out(&render::list(format, default, &image_headers(), &rows)?);
    Ok(0)
}

pub async fn history(ctx: &Ctx, a: &HistoryArgs) -> Outcome {
    let items: Vec<Value> = ctx
        .client
        .get(&format!("/images/{}/history", seg(&a.image)))
        .json_response()
        .await?;
    let trunc = !a.no_trunc;
    let rows: Vec<Value> = items
        .iter()
        .map(|h| {
            let id = h["Id"].as_str().unwrap_or("<missing>");
            let id = if id == "<missing>" || !trunc { id.to_string() } else { short_id(id) };
            let created = h["Created"].as_i64().unwrap_or(0);
            let by = h["CreatedBy"].as_str().unwrap_or_default().replace('\t', " ");
            let size = h["Size"].as_i64().unwrap_or(0);
            json!({
                "ID": id,
                "CreatedSince": if a.human { human::since(created) } else { human::unix_to_go_string(created) },
                "CreatedAt": human::unix_to_go_string(created),
                "CreatedBy": if trunc { render::ellipsis(&by, 45) } else { by },
                "Size": if a.human { human::human_size_prec(size as f64, 3) } else { size.to_string() },
                "Comment": h["Comment"].as_str().unwrap_or_default(),
            })
        })
        .collect();
    let headers = json!({"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"});
    let default = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
    let format = if a.quiet {
        "{{.ID}}".to_string()
    } else {
        a.format.clone().unwrap_or_default()
    };
    out(&render::list(&format, default, &headers, &rows)?);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_and_normalize() {
        assert_eq!(split_ref("busybox"), ("busybox".into(), "".into()));
        assert_eq!(split_ref("busybox:1.36"), ("busybox".into(), "1.36".into()));
        assert_eq!(
            split_ref("127.0.0.1:5000/bb"),
            ("127.0.0.1:5000/bb".into(), "".into())
        );
        assert_eq!(
            split_ref("127.0.0.1:5000/bb:1"),
            ("127.0.0.1:5000/bb".into(), "1".into())
        );
        assert_eq!(split_ref("bb@sha256:ab"), ("bb".into(), "sha256:ab".into()));
        assert_eq!(normalize("busybox"), "busybox:latest");
        assert_eq!(full_name("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full_name("me/app:2"), "docker.io/me/app:2");
        assert_eq!(full_name("127.0.0.1:5000/bb:1"), "127.0.0.1:5000/bb:1");
    }

    #[test]
    fn image_rows_like_docker_images() {
        let i: ImageSummary = serde_json::from_value(json!({
            "Id": "sha256:63d69a7c8ad7aaaa", "RepoTags": ["bb:1", "bb:latest"],
            "RepoDigests": ["bb@sha256:32de"], "Created": 0, "Size": 4261000
        }))
        .unwrap();
        let rows = image_rows(&i, true);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["Repository"], "bb");
        assert_eq!(rows[0]["Tag"], "1");
        assert_eq!(rows[0]["Digest"], "sha256:32de");
        assert_eq!(rows[0]["ID"], "63d69a7c8ad7");
        assert_eq!(rows[0]["Size"], "4.26MB");
        let none: ImageSummary =
            serde_json::from_value(json!({"Id": "sha256:1", "RepoTags": null})).unwrap();
        assert_eq!(image_rows(&none, true)[0]["Repository"], "<none>");
        let table = render::list(
            "",
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}",
            &image_headers(),
            &rows,
        )
        .unwrap();
        assert_eq!(
            table,
            "REPOSITORY   TAG       IMAGE ID\nbb           1         63d69a7c8ad7\nbb           latest    63d69a7c8ad7\n"
        );
    }
}
