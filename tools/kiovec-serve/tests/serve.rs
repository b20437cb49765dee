//! Runs the kiovec-serve binary on loopback and talks HTTP/1.1 to it over raw TCP: keep-alive
//! with pipelined requests, HEAD, Range (206, 416), errors, and a file rebuilt after it
//! changed. Runs on the sendfile path (`--mode sendfile`) and on `--mode auto`, which is the
//! kiovec path where /dev/kiovec exists and the fallback elsewhere.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Server {
    child: Child,
    addr: String,
    root: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn data(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8).collect()
}

fn start(mode: &str) -> Server {
    let root =
        std::env::temp_dir().join(format!("kiovec-serve-test-{}-{mode}", std::process::id()));
    std::fs::create_dir_all(root.join("dir")).unwrap();
    std::fs::write(root.join("big.bin"), data(300_000, 1)).unwrap();
    std::fs::write(root.join("index.html"), b"<h1>index</h1>\n").unwrap();
    std::fs::write(root.join("dir/index.html"), b"sub index\n").unwrap();
    std::fs::write(root.join("empty.txt"), b"").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiovec-serve"))
        .args(["--listen", "127.0.0.1:0", "--mode", mode, "--root"])
        .arg(&root)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    for _ in 0..10 {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap() == 0 {
            break;
        }
        eprint!("{line}");
        if let Some(a) = line.trim().rsplit_once("on http://") {
            addr = Some(a.1.to_string());
            break;
        }
    }
    // Keep draining stderr so the server never blocks on it.
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::stderr()));
    Server { child, addr: addr.expect("server address"), root }
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads one response; `head` says the request was HEAD (no body whatever the length).
fn read_resp(r: &mut BufReader<TcpStream>, head: bool) -> Resp {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).expect("status line").parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').unwrap();
        headers.push((n.to_string(), v.trim().to_string()));
    }
    let mut resp = Resp { status, headers, body: Vec::new() };
    if !head {
        let n: usize = resp.header("content-length").expect("content-length").parse().unwrap();
        resp.body = vec![0; n];
        r.read_exact(&mut resp.body).unwrap();
    }
    resp
}

fn connect(s: &Server) -> (TcpStream, BufReader<TcpStream>) {
    let c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let r = BufReader::new(c.try_clone().unwrap());
    (c, r)
}

fn exercise(mode: &str) {
    let s = start(mode);
    let big = data(300_000, 1);
    let (mut c, mut r) = connect(&s);
    // Three pipelined requests on one connection.
    c.write_all(
        b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n\
          HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=1000-1999\r\n\r\n",
    )
    .unwrap();
    let a = read_resp(&mut r, false);
    assert_eq!(a.status, 200);
    assert!(a.body == big, "GET body differs");
    assert_eq!(a.header("accept-ranges"), Some("bytes"));
    let path = a.header("x-send-path").unwrap().to_string();
    if mode == "sendfile" || !std::path::Path::new(kiovec::DEVICE).exists() {
        assert_eq!(path, "sendfile");
    } else {
        assert_eq!(path, "kiovec");
    }
    let h = read_resp(&mut r, true);
    assert_eq!(h.status, 200);
    assert_eq!(h.header("content-length"), Some("300000"));
    let p = read_resp(&mut r, false);
    assert_eq!(p.status, 206);
    assert_eq!(p.header("content-range"), Some("bytes 1000-1999/300000"));
    assert!(p.body == big[1000..2000]);
    // Suffix and open-ended ranges, then an unsatisfiable one; the connection lives on.
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=-10\r\n\r\n").unwrap();
    let p = read_resp(&mut r, false);
    assert_eq!((p.status, &p.body[..]), (206, &big[299_990..]));
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=299999-\r\n\r\n").unwrap();
    assert_eq!(read_resp(&mut r, false).body, &big[299_999..]);
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=300000-\r\n\r\n").unwrap();
    let u = read_resp(&mut r, false);
    assert_eq!(u.status, 416);
    assert_eq!(u.header("content-range"), Some("bytes */300000"));
    // Index files, an empty file, errors.
    for (req, status, body) in [
        ("GET / HTTP/1.1", 200, &b"<h1>index</h1>\n"[..]),
        ("GET /dir/ HTTP/1.1", 200, b"sub index\n"),
        ("GET /empty.txt HTTP/1.1", 200, b""),
        ("GET /missing HTTP/1.1", 404, b"404 Not Found\n"),
        ("GET /../etc/passwd HTTP/1.1", 404, b"404 Not Found\n"),
        ("DELETE /big.bin HTTP/1.1", 405, b"405 Method Not Allowed\n"),
    ] {
        c.write_all(format!("{req}\r\nHost: t\r\n\r\n").as_bytes()).unwrap();
        let x = read_resp(&mut r, false);
        assert_eq!((x.status, &x.body[..]), (status, body), "{req}");
    }
    // A changed file is rebuilt: new size and new bytes.
    let newer = data(5000, 9);
    std::fs::write(s.root.join("big.bin"), &newer).unwrap();
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    assert!(read_resp(&mut r, false).body == newer, "the cache served a stale file");
    // Connection: close is honoured.
    c.write_all(b"GET /index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
    let x = read_resp(&mut r, false);
    assert_eq!(x.header("connection"), Some("close"));
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    // A malformed request gets 400 and the connection is closed.
    let (mut c, mut r) = connect(&s);
    c.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(read_resp(&mut r, false).status, 400);
}

#[test]
fn sendfile_mode_serves_files_with_keep_alive_and_ranges() {
    exercise("sendfile");
}

#[test]
fn auto_mode_serves_the_same() {
    exercise("auto");
}
