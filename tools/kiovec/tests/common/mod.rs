//! Helpers shared by the host and guest tests: loopback TCP pairs, readers, data, files.
#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A connected loopback TCP pair: (sender, receiver).
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let tx = TcpStream::connect(l.local_addr().unwrap()).expect("connect loopback");
    let (rx, _) = l.accept().expect("accept");
    rx.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    (tx, rx)
}

/// Reads exactly `n` bytes on a thread (fails on EOF or timeout before that).
pub fn read_n(mut rx: TcpStream, n: usize) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = vec![0u8; n];
        rx.read_exact(&mut v).expect("receiver read_exact");
        v
    })
}

/// Reads until EOF on a thread.
pub fn read_to_end(mut rx: TcpStream) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        rx.read_to_end(&mut v).expect("receiver read_to_end");
        v
    })
}

/// Reads until EOF in small chunks with a pause after each, starting only after 100 ms: a
/// slow peer that fills the sender's socket buffer (more than a few hundred KiB sent to it
/// is sure to meet a full buffer: EAGAIN or short counts).
pub fn read_slowly(mut rx: TcpStream, chunk: usize, pause: Duration) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let mut v = Vec::new();
        let mut buf = vec![0u8; chunk];
        loop {
            let n = rx.read(&mut buf).expect("slow receiver read");
            if n == 0 {
                return v;
            }
            v.extend_from_slice(&buf[..n]);
            std::thread::sleep(pause);
        }
    })
}

/// Shrinks a socket's send buffer so that large sends come back short.
pub fn small_sndbuf(s: &TcpStream) {
    rustix::net::sockopt::set_socket_send_buffer_size(s, 4096).unwrap();
}

/// Shrinks a socket's receive buffer.
pub fn small_rcvbuf(s: &TcpStream) {
    rustix::net::sockopt::set_socket_recv_buffer_size(s, 4096).unwrap();
}

/// `n` bytes of a pattern that differs at every offset that matters (xorshift), seeded so
/// that two buffers with different seeds differ.
pub fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A directory for this process's files: $KIOVEC_TEST_DIR, else the system temp dir.
pub fn scratch_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let base =
        std::env::var_os("KIOVEC_TEST_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let d = base.join(format!(
        "kiovec-rs-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A regular file open for reading and writing, holding `data` (removed from its directory
/// at once; the handle keeps it).
pub fn temp_file(data: &[u8]) -> File {
    let dir = scratch_dir();
    let p = dir.join("data");
    let mut f = File::options().read(true).write(true).create_new(true).open(&p).unwrap();
    f.write_all(data).unwrap();
    std::fs::remove_file(&p).unwrap();
    std::fs::remove_dir(&dir).unwrap();
    f
}

/// A memfd (tmpfs: a page cache kiovec references on every module version) holding `data`.
pub fn memfd(data: &[u8]) -> File {
    let fd = rustix::fs::memfd_create("kiovec-test", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
    let mut f = File::from(fd);
    f.write_all(data).unwrap();
    f
}

/// Asserts two byte strings are equal, reporting the first difference instead of dumping
/// megabytes.
#[track_caller]
pub fn assert_bytes_eq(got: &[u8], want: &[u8]) {
    if got != want {
        let at =
            got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
        panic!(
            "bytes differ: got {} bytes, want {}; first difference at offset {at}",
            got.len(),
            want.len()
        );
    }
}
