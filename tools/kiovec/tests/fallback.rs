//! Host tests of the `send` + `sendfile` fallback of [`kiovec::Response`], end to end over
//! loopback TCP, byte for byte, and of the argument checks it shares with the kiovec path.
//! No module needed.

mod common;

use std::fs::File;
use std::io::{self, Seek, Write};
use std::os::fd::AsRawFd;
use std::time::Duration;

use common::*;
use kiovec::{Mode, Path, Response};

const EBADF: i32 = 9;
const EINVAL: i32 = 22;
const EPIPE: i32 = 32;
const ECONNRESET: i32 = 104;
const ENODATA: i32 = 61;
const ENOTSOCK: i32 = 88;

fn header(n: u64) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n").into_bytes()
}

#[test]
fn whole_file_byte_for_byte() {
    let body = pattern(1 << 20, 1);
    let file = temp_file(&body);
    let hdr = header(body.len() as u64);
    let r = Response::with_mode(&hdr, &file, .., Mode::Sendfile).unwrap();
    assert_eq!(r.path(), Path::Sendfile);
    assert!(r.fallback_reason().is_none());
    assert!(r.container().is_none());
    assert_eq!(r.len(), (hdr.len() + body.len()) as u64);
    assert_eq!(r.body_len(), body.len() as u64);
    let (tx, rx) = tcp_pair();
    let reader = read_to_end(rx);
    assert_eq!(r.send(&tx).unwrap(), r.len());
    drop(tx);
    assert_bytes_eq(&reader.join().unwrap(), &[hdr, body].concat());
}

#[test]
fn same_response_to_many_sockets_and_twice_to_one() {
    let body = pattern(100_000, 2);
    let file = temp_file(&body);
    let hdr = header(body.len() as u64);
    let want = [hdr.clone(), body.clone()].concat();
    let r = Response::with_mode(&hdr, &file, .., Mode::Sendfile).unwrap();
    // The file descriptor may go: the response holds its own.
    drop(file);
    for _ in 0..3 {
        let (tx, rx) = tcp_pair();
        let reader = read_to_end(rx);
        r.send(&tx).unwrap();
        r.send(&tx).unwrap();
        drop(tx);
        assert_bytes_eq(&reader.join().unwrap(), &[want.clone(), want.clone()].concat());
    }
}

#[test]
fn file_ranges_and_per_request_headers() {
    let body = pattern(300_000, 3);
    let file = temp_file(&body);
    // A response over bytes [1000, 250000) of the file.
    let r = Response::body(&file, 1000..250_000, Mode::Sendfile).unwrap();
    assert_eq!(r.len(), 249_000);
    let (tx, rx) = tcp_pair();
    let reader = read_to_end(rx);
    let h1 = b"HTTP/1.1 206 Partial Content\r\n\r\n".to_vec();
    assert_eq!(r.send_with_header(&tx, &h1, 10..=19).unwrap(), h1.len() as u64 + 10);
    assert_eq!(r.send_with_header(&tx, b"", ..).unwrap(), 249_000);
    assert_eq!(r.send_with_header(&tx, b"X", 248_999..).unwrap(), 2);
    assert_eq!(r.send_with_header(&tx, b"", 5..5).unwrap(), 0);
    assert_eq!(r.send(&tx).unwrap(), 249_000);
    drop(tx);
    let want = [
        &h1[..],
        &body[1010..1020],
        &body[1000..250_000],
        b"X",
        &body[249_999..250_000],
        &body[1000..250_000],
    ]
    .concat();
    assert_bytes_eq(&reader.join().unwrap(), &want);
}

#[test]
fn empty_body_and_empty_file() {
    let file = temp_file(b"");
    let r = Response::with_mode(b"HDR", &file, .., Mode::Sendfile).unwrap();
    assert_eq!(r.len(), 3);
    let (tx, rx) = tcp_pair();
    let reader = read_to_end(rx);
    assert_eq!(r.send(&tx).unwrap(), 3);
    let r0 = Response::with_mode(b"", &file, .., Mode::Sendfile).unwrap();
    assert!(r0.is_empty());
    assert_eq!(r0.send(&tx).unwrap(), 0);
    drop(tx);
    assert_eq!(reader.join().unwrap(), b"HDR");
}

#[test]
fn nonblocking_socket_with_a_slow_reader_is_resumed_exactly() {
    let body = pattern(2 << 20, 4);
    let file = temp_file(&body);
    let hdr = pattern(20_000, 5); // a header longer than the send buffer: resumed inside it
    let r = Response::with_mode(&hdr, &file, .., Mode::Sendfile).unwrap();
    let (tx, rx) = tcp_pair();
    small_sndbuf(&tx);
    tx.set_nonblocking(true).unwrap();
    let reader = read_slowly(rx, 16 << 10, Duration::from_millis(1));
    assert_eq!(r.send(&tx).unwrap(), r.len());
    drop(tx);
    assert_bytes_eq(&reader.join().unwrap(), &[hdr, body].concat());
}

#[cfg(feature = "tokio")]
#[tokio::test(flavor = "current_thread")]
async fn async_send_under_a_slow_reader() {
    let body = pattern(1 << 20, 6);
    let file = temp_file(&body);
    let hdr = header(body.len() as u64);
    let r = Response::with_mode(&hdr, &file, .., Mode::Sendfile).unwrap();
    let (tx, rx) = tcp_pair();
    small_sndbuf(&tx);
    tx.set_nonblocking(true).unwrap();
    let tx = tokio::net::TcpStream::from_std(tx).unwrap();
    let reader = read_slowly(rx, 8 << 10, Duration::from_millis(1));
    // While the task waits for writability, the runtime stays free: count its ticks.
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let t2 = ticks.clone();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
            t2.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let n = r.send_async(&tx).await.unwrap();
    assert_eq!(n, r.len());
    let n2 = r.send_with_header_async(&tx, Some(b"H2"), 10..20).await.unwrap();
    assert_eq!(n2, 12);
    ticker.abort();
    drop(tx);
    let got = tokio::task::spawn_blocking(move || reader.join().unwrap()).await.unwrap();
    assert_bytes_eq(&got, &[&hdr[..], &body, b"H2", &body[10..20]].concat());
    assert!(
        ticks.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the runtime never ran another task while the send waited"
    );
}

#[test]
fn arguments_are_checked_as_the_module_checks_them() {
    let body = pattern(5000, 7);
    let file = temp_file(&body);
    let err = |r: io::Result<Response>| r.unwrap_err().raw_os_error();
    // A range past the end of the file is not clamped.
    assert_eq!(err(Response::with_mode(b"", &file, 0..5001, Mode::Sendfile)), Some(EINVAL));
    assert_eq!(err(Response::with_mode(b"", &file, 5001.., Mode::Sendfile)), Some(EINVAL));
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = 10..5;
    assert_eq!(err(Response::with_mode(b"", &file, reversed, Mode::Sendfile)), Some(EINVAL));
    assert_eq!(err(Response::with_mode(b"", &file, 0..=u64::MAX, Mode::Sendfile)), Some(75));
    // Not a regular file.
    let dir = File::open("/").unwrap();
    assert_eq!(err(Response::with_mode(b"", &dir, .., Mode::Sendfile)), Some(EINVAL));
    let (tx, _rx) = tcp_pair();
    assert_eq!(err(Response::with_mode(b"", &tx, .., Mode::Sendfile)), Some(EINVAL));
    // Not open for reading.
    let path = format!("/proc/self/fd/{}", file.as_raw_fd());
    let wronly = File::options().write(true).open(&path).unwrap();
    assert_eq!(err(Response::with_mode(b"", &wronly, .., Mode::Sendfile)), Some(EBADF));
    let opath =
        rustix::fs::open(&path, rustix::fs::OFlags::PATH, rustix::fs::Mode::empty()).unwrap();
    assert_eq!(err(Response::with_mode(b"", &opath, .., Mode::Sendfile)), Some(EBADF));
    // A body range outside the body.
    let r = Response::with_mode(b"", &file, 100..200, Mode::Sendfile).unwrap();
    assert_eq!(r.send_with_header(&tx, b"", 0..101).unwrap_err().raw_os_error(), Some(EINVAL));
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = 50..40;
    assert_eq!(r.send_with_header(&tx, b"", reversed).unwrap_err().raw_os_error(), Some(EINVAL));
}

#[test]
fn a_file_that_shrank_gives_enodata_after_the_header() {
    let body = pattern(100_000, 8);
    let mut file = temp_file(&body);
    let r = Response::with_mode(b"HEAD", &file, .., Mode::Sendfile).unwrap();
    file.set_len(50_000).unwrap();
    file.rewind().unwrap();
    let (tx, rx) = tcp_pair();
    let reader = read_to_end(rx);
    let e = r.send(&tx).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(ENODATA), "{e}");
    drop(tx);
    // The peer got the header and the prefix that still existed, nothing else.
    assert_bytes_eq(&reader.join().unwrap(), &[b"HEAD", &body[..50_000]].concat());
}

#[test]
fn sends_to_a_non_socket_or_a_closed_peer_fail_with_their_errno() {
    let body = pattern(4 << 20, 9);
    let file = temp_file(&body);
    let r = Response::with_mode(b"H", &file, .., Mode::Sendfile).unwrap();
    let mut other = temp_file(b"");
    assert_eq!(r.send(&other).unwrap_err().raw_os_error(), Some(ENOTSOCK));
    other.flush().unwrap();
    let (tx, rx) = tcp_pair();
    drop(rx);
    let e = r.send(&tx).unwrap_err();
    assert!(matches!(e.raw_os_error(), Some(EPIPE) | Some(ECONNRESET)), "{e}");
}

#[test]
fn auto_mode_says_which_path_it_took_and_why() {
    let body = pattern(10_000, 10);
    let file = temp_file(&body);
    let r = Response::new(b"HDR", &file, ..).unwrap();
    if std::path::Path::new(kiovec::DEVICE).exists() {
        // A machine with the module: the kiovec path unless the module refused the file.
        assert!(r.path() == Path::Kiovec || r.fallback_reason().is_some());
    } else {
        assert_eq!(r.path(), Path::Sendfile);
        let why = r.fallback_reason().expect("a fallback reason");
        assert_eq!(why.kind(), io::ErrorKind::NotFound, "{why}");
        assert_eq!(
            Response::with_mode(b"", &file, .., Mode::Kiovec).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
    assert_eq!(r.path().to_string(), if r.path() == Path::Kiovec { "kiovec" } else { "sendfile" });
    let (tx, rx) = tcp_pair();
    let reader = read_to_end(rx);
    r.send(&tx).unwrap();
    drop(tx);
    assert_bytes_eq(&reader.join().unwrap(), &[b"HDR", &body[..]].concat());
}

#[test]
fn container_open_without_the_device_is_not_found_and_abi_of_other_files_is_refused() {
    if !std::path::Path::new(kiovec::DEVICE).exists() {
        let e = kiovec::Container::open().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(e.raw_os_error(), Some(2));
    }
    // A device that does not answer KIOVEC_IOC_INFO: ENOTTY, reported as an ABI mismatch.
    let e = kiovec::Container::open_path("/dev/null").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Unsupported);
    let m = e.get_ref().and_then(|i| i.downcast_ref::<kiovec::AbiMismatch>()).expect("AbiMismatch");
    assert_eq!(m.module, None);
    assert_eq!(m.supported, 1);
}
