//! kiovec-serve: an HTTP/1.1 static file server on kiovec containers.
//!
//! GET and HEAD of the files under a root directory, keep-alive and pipelining, single
//! `Range` requests (206/416). Each file's body is a cached [`kiovec::Response`] (a
//! container holding the file's page-cache pages), rebuilt when the file's size, mtime or
//! inode change; each response is one per-request header plus that body, sent with
//! `transmit_all_with_header_async`. Where /dev/kiovec is absent (or refuses a file) the
//! same calls go through `send` + `sendfile`; the `X-Send-Path` response header says which
//! path served it.
//!
//! ```text
//! kiovec-serve [--listen 127.0.0.1:8080] [--root .] [--mode auto|kiovec|sendfile] [--threads N]
//! ```

mod http;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use kiovec::{Features, Mode, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use http::RangeAnswer;

/// Longest request head accepted.
const MAX_HEAD: usize = 16 << 10;
/// How long an idle keep-alive connection is kept.
const IDLE: Duration = Duration::from_secs(30);

struct Config {
    root: PathBuf,
    mode: Mode,
}

/// A cached body: the file's identity when it was built, and its Response.
struct Entry {
    size: u64,
    mtime: (i64, i64),
    ino: (u64, u64),
    modified: SystemTime,
    body: Response,
    /// On the kiovec path without KIOVEC_FEAT_TX_RANGE: the sendfile twin, for ranges that
    /// stop before the file's end.
    ranges: Option<Response>,
}

type Cache = Mutex<HashMap<PathBuf, Arc<Entry>>>;

struct Server {
    cfg: Config,
    cache: Cache,
}

fn usage() -> ! {
    eprintln!(
        "usage: kiovec-serve [--listen ADDR:PORT] [--root DIR] [--mode auto|kiovec|sendfile] \
         [--threads N]"
    );
    std::process::exit(2)
}

fn main() -> io::Result<()> {
    let mut listen: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let mut root = PathBuf::from(".");
    let mut mode = Mode::Auto;
    let mut threads = 2;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--listen" => listen = val().parse().unwrap_or_else(|_| usage()),
            "--root" => root = PathBuf::from(val()),
            "--mode" => {
                mode = match val().as_str() {
                    "auto" => Mode::Auto,
                    "kiovec" => Mode::Kiovec,
                    "sendfile" => Mode::Sendfile,
                    _ => usage(),
                }
            }
            "--threads" => threads = val().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let root = root.canonicalize()?;
    match (mode, kiovec::Container::open()) {
        (Mode::Sendfile, _) => eprintln!("kiovec-serve: sendfile path (asked)"),
        (_, Ok(c)) => eprintln!(
            "kiovec-serve: kiovec path (module ABI {}, features {:#x}: per-request header {}, \
             ranges {})",
            c.info().abi_version,
            c.info().features.0,
            if c.header_is_native() { "native" } else { "emulated" },
            if c.has(Features::TX_RANGE) { "native" } else { "sendfile" },
        ),
        (Mode::Kiovec, Err(e)) => {
            eprintln!("kiovec-serve: --mode kiovec but {}: {e}", kiovec::DEVICE);
            std::process::exit(1)
        }
        (Mode::Auto, Err(e)) => {
            eprintln!("kiovec-serve: sendfile fallback ({}: {e})", kiovec::DEVICE)
        }
    }
    let server = Arc::new(Server { cfg: Config { root, mode }, cache: Mutex::new(HashMap::new()) });
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(listen).await?;
        eprintln!(
            "kiovec-serve: serving {} on http://{}",
            server.cfg.root.display(),
            listener.local_addr()?
        );
        loop {
            tokio::select! {
                r = listener.accept() => {
                    let (sock, _) = r?;
                    let server = server.clone();
                    tokio::spawn(async move {
                        if let Err(e) = server.connection(sock).await {
                            if !matches!(e.kind(), io::ErrorKind::BrokenPipe
                                | io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof)
                            {
                                eprintln!("kiovec-serve: connection: {e}");
                            }
                        }
                    });
                }
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
        }
    })
}

impl Server {
    async fn connection(&self, mut sock: TcpStream) -> io::Result<()> {
        sock.set_nodelay(true)?;
        let mut buf = Vec::with_capacity(4096);
        loop {
            // Read until a whole head is buffered (pipelined requests stay in `buf`).
            let n = loop {
                if let Some(n) = http::head_len(&buf) {
                    break n;
                }
                if buf.len() >= MAX_HEAD {
                    self.simple(&mut sock, 431, false, false).await?;
                    return Ok(());
                }
                let mut chunk = [0u8; 4096];
                let r = tokio::time::timeout(IDLE, sock.read(&mut chunk)).await;
                match r {
                    Ok(Ok(0)) | Err(_) => return Ok(()),
                    Ok(Ok(k)) => buf.extend_from_slice(&chunk[..k]),
                    Ok(Err(e)) => return Err(e),
                }
            };
            let head: Vec<u8> = buf.drain(..n).collect();
            let req = match http::parse(&head) {
                Ok(r) => r,
                Err((status, why)) => {
                    eprintln!("kiovec-serve: {status}: {why}");
                    self.simple(&mut sock, status, false, false).await?;
                    return Ok(());
                }
            };
            if !self.respond(&mut sock, &req).await? || !req.keep_alive {
                return Ok(());
            }
        }
    }

    /// A short response with a text body; returns after sending it.
    async fn simple(
        &self,
        sock: &mut TcpStream,
        status: u16,
        head_only: bool,
        keep: bool,
    ) -> io::Result<()> {
        let body = format!("{status} {}\n", http::reason(status));
        let mut resp = format!(
            "HTTP/1.1 {status} {}\r\nDate: {}\r\nServer: kiovec-serve\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\nConnection: {}\r\n",
            http::reason(status),
            http::http_date(SystemTime::now()),
            body.len(),
            if keep { "keep-alive" } else { "close" },
        );
        if status == 405 {
            resp.push_str("Allow: GET, HEAD\r\n");
        }
        resp.push_str("\r\n");
        if !head_only {
            resp.push_str(&body);
        }
        sock.write_all(resp.as_bytes()).await
    }

    /// Answers one request; returns whether the connection may carry another.
    async fn respond(&self, sock: &mut TcpStream, req: &http::Request) -> io::Result<bool> {
        let head_only = req.method == "HEAD";
        if req.method != "GET" && !head_only {
            self.simple(sock, 405, false, req.keep_alive).await?;
            return Ok(true);
        }
        let Some(path) = self.resolve(&req.path) else {
            self.simple(sock, 404, head_only, req.keep_alive).await?;
            return Ok(true);
        };
        let entry = match self.entry(&path).await {
            Ok(e) => e,
            Err(e) => {
                let status = match e.kind() {
                    io::ErrorKind::NotFound => 404,
                    io::ErrorKind::PermissionDenied => 403,
                    _ if e.raw_os_error() == Some(21) => 404, // EISDIR
                    _ => 500,
                };
                if status == 500 {
                    eprintln!("kiovec-serve: {}: {e}", path.display());
                }
                self.simple(sock, status, head_only, req.keep_alive).await?;
                return Ok(true);
            }
        };
        let size = entry.size;
        let answer = match &req.range {
            Some(r) => http::range(r, size),
            None => RangeAnswer::Full,
        };
        let (status, start, end) = match answer {
            RangeAnswer::Full => (200, 0, size),
            RangeAnswer::Partial(s, e) => (206, s, e),
            RangeAnswer::Unsatisfiable => {
                let hdr = format!(
                    "HTTP/1.1 416 Range Not Satisfiable\r\nDate: {}\r\nServer: kiovec-serve\r\n\
                     Content-Range: bytes */{size}\r\nContent-Length: 0\r\nConnection: {}\r\n\r\n",
                    http::http_date(SystemTime::now()),
                    if req.keep_alive { "keep-alive" } else { "close" },
                );
                sock.write_all(hdr.as_bytes()).await?;
                return Ok(true);
            }
        };
        // Ranges that stop short of the end need TX_RANGE on the kiovec path.
        let body = match &entry.ranges {
            Some(twin) if end < size => twin,
            _ => &entry.body,
        };
        let mut hdr = format!(
            "HTTP/1.{} {status} {}\r\nDate: {}\r\nServer: kiovec-serve\r\nX-Send-Path: {}\r\n\
             Last-Modified: {}\r\nContent-Type: {}\r\nAccept-Ranges: bytes\r\nContent-Length: {}\r\n",
            req.minor,
            http::reason(status),
            http::http_date(SystemTime::now()),
            body.path(),
            http::http_date(entry.modified),
            http::content_type(&path),
            end - start,
        );
        if status == 206 {
            hdr.push_str(&format!("Content-Range: bytes {start}-{}/{size}\r\n", end - 1));
        }
        hdr.push_str(if req.keep_alive {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        if head_only {
            sock.write_all(hdr.as_bytes()).await?;
        } else {
            body.send_with_header_async(&*sock, Some(hdr.as_bytes()), start..end).await?;
        }
        Ok(true)
    }

    /// The file a request path names under the root, without leaving it (`..` refused,
    /// symbolic links followed only to files inside the root); a directory means its
    /// index.html.
    fn resolve(&self, path: &str) -> Option<PathBuf> {
        let rel = Path::new(path.trim_start_matches('/'));
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return None;
        }
        let mut p = self.cfg.root.join(rel);
        if p.is_dir() {
            p.push("index.html");
        }
        let real = p.canonicalize().ok()?;
        real.starts_with(&self.cfg.root).then_some(real)
    }

    /// The cached body of `path`, rebuilt when the file changed (size, mtime, inode).
    async fn entry(&self, path: &Path) -> io::Result<Arc<Entry>> {
        let md = std::fs::metadata(path)?;
        if !md.is_file() {
            return Err(io::Error::from_raw_os_error(21));
        }
        let same = |e: &Entry| {
            e.size == md.len()
                && e.mtime == (md.mtime(), md.mtime_nsec())
                && e.ino == (md.dev(), md.ino())
        };
        if let Some(e) = self.cache.lock().unwrap().get(path) {
            if same(e) {
                return Ok(e.clone());
            }
        }
        let mode = self.cfg.mode;
        let p = path.to_path_buf();
        // Opening the file and reading its pages in may block on the disk: off the reactor.
        let entry = tokio::task::spawn_blocking(move || -> io::Result<Entry> {
            let file = std::fs::File::open(&p)?;
            let md = file.metadata()?;
            // The range is the size just read; a file that grows later is rebuilt then.
            let body = Response::body(&file, 0..md.len(), mode)?;
            // Without /dev/kiovec the startup line said so; per file, only refusals matter.
            if let Some(why) =
                body.fallback_reason().filter(|e| e.kind() != io::ErrorKind::NotFound)
            {
                eprintln!("kiovec-serve: {}: sendfile fallback ({why})", p.display());
            }
            let ranges = match body.container() {
                Some(c) if !c.has(Features::TX_RANGE) => {
                    Some(Response::body(&file, 0..md.len(), Mode::Sendfile)?)
                }
                _ => None,
            };
            Ok(Entry {
                size: md.len(),
                mtime: (md.mtime(), md.mtime_nsec()),
                ino: (md.dev(), md.ino()),
                modified: md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                body,
                ranges,
            })
        })
        .await
        .map_err(io::Error::other)??;
        let entry = Arc::new(entry);
        self.cache.lock().unwrap().insert(path.to_path_buf(), entry.clone());
        Ok(entry)
    }
}
