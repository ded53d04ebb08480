//! End to end: networks, name resolution, published ports.

mod common;

use std::io::Read;

use berth_testkit::unique_name;
use common::daemon_with_busybox;

#[test]
fn default_bridge_gives_an_address_and_none_gives_only_lo() {
    let (d, _t) = daemon_with_busybox();
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "ip -4 -o addr show eth0 | wc -l; ls /sys/class/net",
    ]);
    assert!(out.starts_with("1\n"), "{out}");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(out.trim(), "lo");
}

#[test]
fn containers_on_a_user_network_resolve_each_other_by_name() {
    let (d, _t) = daemon_with_busybox();
    let net = unique_name("net");
    let subnet = format!(
        "10.{}.{}.0/24",
        50 + std::process::id() % 40,
        (std::process::id() / 40) % 250
    );
    d.docker_ok(&["network", "create", "--subnet", &subnet, &net]);
    let ls = d.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(ls.contains(&net) && ls.contains("bridge"), "{ls}");
    let server = unique_name("srv");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &server,
        "--network",
        &net,
        "busybox",
        "sleep",
        "60",
    ]);
    let ip = d.docker_ok(&[
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
        &server,
    ]);
    assert!(!ip.trim().is_empty(), "no address: {ip}");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        &net,
        "busybox",
        "sh",
        "-c",
        &format!("ping -c1 -W2 {server} >/dev/null && echo reached"),
    ]);
    assert_eq!(out.trim(), "reached");
    let rm = d.docker_run(&["network", "rm", &net]);
    assert!(
        !rm.status.success(),
        "a network with endpoints must not be removed"
    );
    d.docker_ok(&["rm", "-f", &server]);
    d.docker_ok(&["network", "rm", &net]);
    let gone = d.docker_run(&["network", "inspect", &net]);
    assert!(!gone.status.success());
}

#[test]
fn published_port_is_reached_from_the_host() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("web");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "-p",
        "127.0.0.1::8080",
        "busybox",
        "sh",
        "-c",
        "echo hello-from-berth > /tmp/i; while true; do nc -l -p 8080 < /tmp/i; done",
    ]);
    let port = d.docker_ok(&[
        "inspect",
        "-f",
        "{{(index (index .NetworkSettings.Ports \"8080/tcp\") 0).HostPort}}",
        &name,
    ]);
    let port: u16 = port.trim().parse().expect("host port");
    let mut got = String::new();
    for _ in 0..50 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let _ = s.read_to_string(&mut got);
            if !got.is_empty() {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(got.trim(), "hello-from-berth");
    let ps = d.docker_ok(&[
        "ps",
        "--format",
        "{{.Ports}}",
        "--filter",
        &format!("name={name}"),
    ]);
    assert!(ps.contains(&format!("127.0.0.1:{port}->8080/tcp")), "{ps}");
    d.docker_ok(&["rm", "-f", &name]);
}

#[test]
fn network_connect_and_disconnect_a_running_container() {
    let (d, _t) = daemon_with_busybox();
    let net = unique_name("cn");
    let subnet = format!(
        "10.{}.{}.0/24",
        91 + std::process::id() % 40,
        (std::process::id() / 7) % 250
    );
    d.docker_ok(&["network", "create", "--subnet", &subnet, &net]);
    let name = unique_name("cc");
    d.docker_ok(&["run", "-d", "--name", &name, "busybox", "sleep", "60"]);
    d.docker_ok(&["network", "connect", &net, &name]);
    let ifs = d.docker_ok(&["exec", &name, "ls", "/sys/class/net"]);
    assert_eq!(ifs.split_whitespace().count(), 3, "{ifs}");
    let nets = d.docker_ok(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        &name,
    ]);
    assert!(nets.contains(&net) && nets.contains("bridge"), "{nets}");
    let again = d.docker_run(&["network", "connect", &net, &name]);
    assert!(!again.status.success());
    d.docker_ok(&["network", "disconnect", &net, &name]);
    let ifs = d.docker_ok(&["exec", &name, "ls", "/sys/class/net"]);
    assert_eq!(ifs.split_whitespace().count(), 2, "{ifs}");
    // both read the same body: without a Container it is a 400, for either
    for route in ["connect", "disconnect"] {
        for body in ["{}", r#"{"Container":""}"#] {
            let path = format!("/networks/{net}/{route}");
            let (status, text) = common::http::json(&d, "POST", &path, body);
            assert_eq!(status, 400, "{route} {body}: {text}");
            assert!(text.contains("Container is required"), "{text}");
        }
    }
    d.docker_ok(&["rm", "-f", &name]);
    d.docker_ok(&["network", "rm", &net]);
}

/// A /24 of its own for this test's user network: 10.90-99.x by process id (the other tests
/// here use 10.50-89, the daemons' bridges 10.100-249).
fn subnet_arg() -> String {
    let pid = std::process::id();
    format!("--subnet=10.{}.{}.0/24", 90 + pid % 10, (pid / 10) % 250)
}

#[test]
fn network_ls_has_the_predefined_networks_and_dockers_filters() {
    let (d, _t) = daemon_with_busybox();
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["network", "ls", "--format", "{{.Name}}"];
        a.extend_from_slice(args);
        let mut v: Vec<String> = d.docker_ok(&a).lines().map(str::to_owned).collect();
        v.sort();
        v
    };
    assert_eq!(names(&[]), vec!["bridge", "host", "none"]);
    let net = unique_name("nf");
    let subnet = subnet_arg();
    d.docker_ok(&["network", "create", &subnet, "--label", "team=a", &net]);
    assert_eq!(names(&["-f", "type=custom"]), vec![net.clone()]);
    assert_eq!(
        names(&["-f", "type=builtin"]),
        vec!["bridge", "host", "none"]
    );
    assert_eq!(names(&["-f", &format!("name={net}")]), vec![net.clone()]);
    assert_eq!(names(&["-f", "driver=null"]), vec!["none"]);
    assert_eq!(names(&["-f", "label=team=a"]), vec![net.clone()]);
    assert_eq!(names(&["-f", "dangling=true"]), vec![net.clone()]);
    // host and none inspect as dockerd's, by name and by ID
    let id = d.docker_ok(&["network", "inspect", "-f", "{{.Id}} {{.Driver}}", "host"]);
    let (id, driver) = id.trim().split_once(' ').unwrap();
    assert_eq!((id.len(), driver), (64, "host"));
    let again = d.docker_ok(&["network", "inspect", "-f", "{{.Name}}", &id[..12]]);
    assert_eq!(again.trim(), "host");
    // what cannot be done to them, with Docker's messages
    let out = d.docker_run(&["network", "rm", "host"]);
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("host is a pre-defined network and cannot be removed"),
        "{}",
        common::stderr(&out)
    );
    let c = unique_name("nfc");
    d.docker_ok(&["create", "--name", &c, "busybox", "true"]);
    let out = d.docker_run(&["network", "connect", "host", &c]);
    assert!(
        common::stderr(&out).contains("connected to host network"),
        "{}",
        common::stderr(&out)
    );
    let out = d.docker_run(&["network", "ls", "-f", "type=other"]);
    assert!(
        common::stderr(&out).contains("invalid filter: 'type'='other'"),
        "{}",
        common::stderr(&out)
    );
    d.docker_ok(&["rm", &c]);
    d.docker_ok(&["network", "rm", &net]);
}

/// `--add-host` as dockerd: the entries land in /etc/hosts, IPv6 addresses included (split at
/// the first colon), `host-gateway` is the default bridge's gateway, also with the host's
/// network; malformed entries are refused at create with moby's messages and leave nothing.
#[test]
fn extra_hosts_with_host_gateway_and_bad_entries() {
    let (d, _t) = daemon_with_busybox();
    let gw = d.docker_ok(&[
        "network",
        "inspect",
        "bridge",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}}",
    ]);
    let gw = gw.trim();
    assert!(gw.parse::<std::net::Ipv4Addr>().is_ok(), "{gw}");
    let hosts = d.docker_ok(&[
        "run",
        "--rm",
        "--add-host",
        "gw.example:host-gateway",
        "--add-host",
        "six.example:fd00::7",
        "--add-host",
        "one.example:192.0.2.9",
        "busybox",
        "cat",
        "/etc/hosts",
    ]);
    assert!(hosts.contains(&format!("{gw}\tgw.example")), "{hosts}");
    assert!(hosts.contains("fd00::7\tsix.example"), "{hosts}");
    assert!(hosts.contains("192.0.2.9\tone.example"), "{hosts}");
    // with the host's network: the host's file, then the extra names
    let hosts = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "--add-host",
        "gw.example:host-gateway",
        "busybox",
        "cat",
        "/etc/hosts",
    ]);
    assert!(hosts.contains(&format!("{gw}\tgw.example")), "{hosts}");
    assert!(hosts.contains("localhost"), "{hosts}");
    // what the CLI would refuse, sent as an API client may: 400, no container
    for (entry, want) in [
        ("nocolon", r#"bad format for add-host: "nocolon""#),
        (":1.2.3.4", r#"bad format for add-host: ":1.2.3.4""#),
        (
            "x:not-an-ip",
            r#"invalid IP address in add-host: "not-an-ip""#,
        ),
    ] {
        let body = format!(
            r#"{{"Image":"busybox","Cmd":["true"],"HostConfig":{{"ExtraHosts":["{entry}"]}}}}"#
        );
        let (code, resp) = common::http::json(&d, "POST", "/containers/create", &body);
        assert_eq!(code, 400, "{entry}: {resp}");
        assert_eq!(common::http::message(&resp), want, "{entry}");
    }
    // nothing the client sends may add lines to the /etc files
    for (field, want) in [
        (
            r#""ExtraHosts":["evil.example\n6.6.6.6 bank.example:1.2.3.4"]"#,
            "bad format for add-host: \"evil.example\\n6.6.6.6 bank.example:1.2.3.4\"",
        ),
        (
            r#""Dns":["not-an-address"]"#,
            r#"bad nameserver address: "not-an-address""#,
        ),
        (
            r#""DnsSearch":["a.example\nnameserver 6.6.6.6"]"#,
            "invalid DNS search domain: \"a.example\\nnameserver 6.6.6.6\"",
        ),
        (
            r#""DnsOptions":["ndots:1 x"]"#,
            r#"invalid DNS option: "ndots:1 x""#,
        ),
    ] {
        let body = format!(r#"{{"Image":"busybox","Cmd":["true"],"HostConfig":{{{field}}}}}"#);
        let (code, resp) = common::http::json(&d, "POST", "/containers/create", &body);
        assert_eq!(code, 400, "{field}: {resp}");
        assert_eq!(common::http::message(&resp), want, "{field}");
    }
    let body = r#"{"Image":"busybox","Cmd":["true"],"Hostname":"a\nb"}"#;
    let (code, resp) = common::http::json(&d, "POST", "/containers/create", body);
    assert_eq!(code, 400, "{resp}");
    assert_eq!(
        common::http::message(&resp),
        "invalid hostname format: \"a\\nb\""
    );
    let ps = d.docker_ok(&["ps", "-aq"]);
    assert!(ps.trim().is_empty(), "containers left: {ps}");
}
