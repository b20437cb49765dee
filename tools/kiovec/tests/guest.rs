//! Guest tests: every `Container` method against the running module, byte for byte over
//! loopback TCP, with its errors, resumes and the async send under a slow reader.
//!
//! They need /dev/kiovec, so they run in the test VM (`scripts/guest-cargo-tests`); a
//! machine without it reports each one as SKIP, never as passed. libtest has no skipped
//! state, so this file has its own small harness (`harness = false`) that prints
//! kselftest-style TAP: `ok N name`, `ok N name # SKIP reason`, `not ok N name`, and the
//! `# Totals: pass:N fail:N xfail:0 xpass:0 skip:N error:0` line that scripts/run-tests
//! counts. It exits 1 if a test failed, else 0.
//!
//!   guest [FILTER...]     run the tests whose name contains any FILTER (all by default)

mod common;

use std::io::{self, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::*;
use kiovec::sys::kiovec_iovec;
use kiovec::{BatchTarget, Container, Features, Mode, Path, Response, KIOVEC_ADD_WRITE};

/// Why a test did not run.
struct Skip(String);
type Outcome = Result<(), Skip>;

const EBADF: i32 = 9;
const EFAULT: i32 = 14;
const EINVAL: i32 = 22;
const EPIPE: i32 = 32;
const ENODATA: i32 = 61;
const EOVERFLOW: i32 = 75;
const ENOTSOCK: i32 = 88;
const EOPNOTSUPP: i32 = 95;
const ECONNRESET: i32 = 104;

fn open() -> Result<Container, Skip> {
    match Container::open() {
        Ok(c) => Ok(c),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Skip("no /dev/kiovec".into())),
        // A device that is there but refuses us (ABI mismatch, permissions) is a failure.
        Err(e) => panic!("Container::open: {e}"),
    }
}

#[track_caller]
fn errno<T: std::fmt::Debug>(r: io::Result<T>) -> i32 {
    let e = r.expect_err("expected an error");
    e.raw_os_error().unwrap_or_else(|| panic!("no errno in {e:?}"))
}

#[track_caller]
fn unsupported<T: std::fmt::Debug>(r: io::Result<T>) {
    let e = r.expect_err("expected Unsupported");
    assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{e}");
}

/// Sends with `send` on a thread while this one receives everything: the bytes received.
fn roundtrip(send: impl FnOnce(&TcpStream) + Send) -> Vec<u8> {
    let (tx, rx) = tcp_pair();
    let reader = read_to_end(rx);
    send(&tx);
    drop(tx);
    reader.join().unwrap()
}

/// A container of a written header, a memfd range and an owned user buffer: (container,
/// its bytes).
fn mixed(body: usize, seed: u64) -> Result<(Container, Vec<u8>), Skip> {
    let mut c = open()?;
    let hdr = b"HTTP/1.1 200 OK\r\nServer: kiovec-guest-test\r\n\r\n".to_vec();
    let file = pattern(body, seed);
    let user = pattern(body / 3 + 17, seed + 1);
    c.write_all(&hdr).unwrap();
    c.add_file(memfd(&file), ..).unwrap();
    c.add_user(user.clone()).unwrap();
    Ok((c, [hdr, file, user].concat()))
}

fn info_and_features() -> Outcome {
    let c = open()?;
    let i = c.info();
    println!("# module: abi {} page {} features {:#x}", i.abi_version, i.page_size, i.features.0);
    assert_eq!(i.abi_version, kiovec::KIOVEC_ABI_VERSION);
    assert!(i.page_size >= 4096 && i.page_size.is_power_of_two());
    assert!(i.max_iovecs >= 1 && i.max_segments >= 1 && i.max_bytes >= 1 << 20);
    assert!(c.has(Features::WRITE | Features::TRANSMIT | Features::COPY_OUT));
    assert!(c.is_empty());
    assert_eq!(c.stat().unwrap(), kiovec::Stat::default());
    assert_eq!(c.header_is_native(), c.has(Features::TX_HEADER));
    Ok(())
}

fn write_stat_copy_out() -> Outcome {
    let mut c = open()?;
    let parts: Vec<Vec<u8>> = vec![
        b"HTTP/1.1 200 OK\r\n".to_vec(),
        b"Content-Type: text/plain\r\n\r\n".to_vec(),
        pattern(10_000, 1),
        vec![],
        pattern(3, 2),
    ];
    for p in &parts {
        c.write_all(p).unwrap();
    }
    let want = parts.concat();
    let n = want.len() as u64;
    assert_eq!(c.len(), n);
    let st = c.stat().unwrap();
    assert_eq!(st.bytes, n);
    assert!(st.owned_pages as u64 >= n.div_ceil(4096), "{st:?}");
    assert!(st.segments >= st.owned_pages, "{st:?}");
    assert_eq!(st.pinned_pages, 0);
    assert_bytes_eq(&c.copy_out_to_vec().unwrap(), &want);
    let mut buf = [0u8; 100];
    assert_eq!(c.copy_out(n - 10, &mut buf).unwrap(), 10);
    assert_eq!(&buf[..10], &want[want.len() - 10..]);
    assert_eq!(c.copy_out(n, &mut buf).unwrap(), 0);
    assert_eq!(c.copy_out(n + 5000, &mut buf).unwrap(), 0);
    assert_eq!(c.copy_out(0, &mut []).unwrap(), 0);
    // from_owned_fd: another Container over a duplicate reads the length from STAT.
    let dup = c.as_fd().try_clone_to_owned().unwrap();
    let c2 = Container::from_owned_fd(dup).unwrap();
    assert_eq!(c2.len(), n);
    assert_bytes_eq(&c2.copy_out_to_vec().unwrap(), &want);
    Ok(())
}

fn add_user_takes_ownership_until_reset() -> Outcome {
    let mut c = open()?;
    let v = pattern((1 << 20) + 123, 3);
    let arc: Arc<[u8]> = Arc::from(pattern(5000, 4));
    let s: &'static [u8] = b"a static tail";
    let a = c.add_user(v.clone()).unwrap();
    assert_eq!((a.offset, a.bytes), (0, v.len() as u64));
    assert!(a.pinned_pages >= 257 && a.segments >= 257, "{a:?}");
    let b = c.add_user(arc.clone()).unwrap();
    assert_eq!((b.offset, b.bytes), (v.len() as u64, 5000));
    let d = c.add_user(s).unwrap();
    assert_eq!(d.offset, v.len() as u64 + 5000);
    assert_eq!(c.add_user(Vec::new()).unwrap().bytes, 0);
    // The container holds a clone of the Arc: it is kept alive by the container.
    assert_eq!(Arc::strong_count(&arc), 2);
    let want = [&v[..], &arc[..], s].concat();
    let st = c.stat().unwrap();
    assert_eq!(st.bytes, want.len() as u64);
    assert_eq!(st.pinned_pages, a.pinned_pages + b.pinned_pages + d.pinned_pages);
    assert_bytes_eq(&c.copy_out_to_vec().unwrap(), &want);
    assert_bytes_eq(&roundtrip(|tx| assert_eq!(c.transmit_all(tx, ..).unwrap(), c.len())), &want);
    c.reset().unwrap();
    assert_eq!(Arc::strong_count(&arc), 1, "reset did not release the buffer");
    assert_eq!(c.stat().unwrap(), kiovec::Stat::default());
    assert!(c.is_empty());
    assert_eq!(c.copy_out(0, &mut [0u8; 10]).unwrap(), 0);
    // Usable again after reset.
    c.add_user(b"again".to_vec()).unwrap();
    assert_eq!(c.copy_out_to_vec().unwrap(), b"again");
    drop(c);
    Ok(())
}

fn add_user_raw_errors_are_all_or_nothing() -> Outcome {
    let mut c = open()?;
    let buf = pattern(8192, 5);
    let ok = kiovec_iovec { base: buf.as_ptr() as u64, len: buf.len() as u64 };
    let unmapped = kiovec_iovec { base: 4096, len: 4096 };
    let wraps = kiovec_iovec { base: u64::MAX - 10, len: 100 };
    let ro: &'static [u8] = b"read-only bytes in .rodata";
    let ro = kiovec_iovec { base: ro.as_ptr() as u64, len: ro.len() as u64 };
    // SAFETY: every call below fails, so nothing stays pinned (checked after each), or pins
    // `buf`, which lives until the reset at the end and is not written meanwhile.
    unsafe {
        assert_eq!(errno(c.add_user_raw(&[], 0)), EINVAL);
        assert_eq!(errno(c.add_user_raw(&[ok], 1 << 7)), EINVAL);
        assert_eq!(errno(c.add_user_raw(&[unmapped], 0)), EFAULT);
        assert_eq!(errno(c.add_user_raw(&[ok, unmapped], 0)), EFAULT);
        assert_eq!(errno(c.add_user_raw(&[ok, wraps], 0)), EOVERFLOW);
        assert_eq!(errno(c.add_user_raw(&[ro], KIOVEC_ADD_WRITE)), EFAULT);
        let too_many = vec![ok; c.info().max_iovecs as usize + 1];
        assert_eq!(errno(c.add_user_raw(&too_many, 0)), EINVAL);
        assert_eq!(c.stat().unwrap(), kiovec::Stat::default(), "a failed add left something");
        // A zero-length iovec is skipped, whatever its base.
        let skipped = kiovec_iovec { base: 4096, len: 0 };
        let a = c.add_user_raw(&[skipped, ok], 0).unwrap();
        assert_eq!(a.bytes, 8192);
    }
    assert_bytes_eq(&c.copy_out_to_vec().unwrap(), &buf);
    c.reset().unwrap();
    drop(buf);
    Ok(())
}

fn add_file_ranges() -> Outcome {
    let mut c = open()?;
    let data = pattern(3 * 4096 + 1000, 6);
    let f = memfd(&data);
    c.write_all(b"HDR").unwrap();
    let a = c.add_file(&f, ..).unwrap();
    assert_eq!((a.at, a.len), (3, data.len() as u64));
    assert_eq!(a.segments, 4);
    let b = c.add_file(&f, 100..5000).unwrap();
    assert_eq!((b.at, b.len), (3 + data.len() as u64, 4900));
    let z = c.add_file(&f, 7..7).unwrap();
    assert_eq!(z.len, 0);
    let e = c.add_file(&f, 4096..=4096).unwrap();
    assert_eq!(e.len, 1);
    drop(f); // the container holds its own reference
    let want = [&b"HDR"[..], &data, &data[100..5000], &data[4096..4097]].concat();
    assert_eq!(c.len(), want.len() as u64);
    assert_eq!(c.stat().unwrap().bytes, want.len() as u64);
    assert_bytes_eq(&c.copy_out_to_vec().unwrap(), &want);
    assert_bytes_eq(
        &roundtrip(|tx| {
            c.transmit_all(tx, ..).unwrap();
        }),
        &want,
    );
    Ok(())
}

fn add_file_errors() -> Outcome {
    let mut c = open()?;
    let data = pattern(5000, 7);
    let f = memfd(&data);
    assert_eq!(errno(c.add_file(std::fs::File::open("/").unwrap(), ..)), EINVAL);
    assert_eq!(errno(c.add_file(&f, 0..5001)), EINVAL);
    assert_eq!(errno(c.add_file(&f, 6000..)), EINVAL);
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = 10..5;
    assert_eq!(errno(c.add_file(&f, reversed)), EINVAL);
    assert_eq!(errno(c.add_file(&f, 0..=u64::MAX)), EOVERFLOW);
    let path = format!("/proc/self/fd/{}", f.as_raw_fd());
    let wronly = std::fs::File::options().write(true).open(&path).unwrap();
    assert_eq!(errno(c.add_file(&wronly, ..)), EBADF);
    let (tx, _rx) = tcp_pair();
    assert_eq!(errno(c.add_file(&tx, 0..0)), EINVAL);
    let other = open()?;
    assert_eq!(errno(c.add_file(&other, 0..0)), EINVAL);
    assert_eq!(c.stat().unwrap(), kiovec::Stat::default());
    Ok(())
}

fn transmit_whole_to_many_sockets() -> Outcome {
    let (c, want) = mixed(1 << 20, 8)?;
    for _ in 0..3 {
        let got = roundtrip(|tx| assert_eq!(c.transmit_all(tx, ..).unwrap(), want.len() as u64));
        assert_bytes_eq(&got, &want);
    }
    // One transmit call at a time, resumed by hand.
    let got = roundtrip(|tx| {
        let mut start = 0u64;
        while start < c.len() {
            let n = c.transmit(tx, start..).unwrap();
            assert!(n > 0);
            start += n as u64;
        }
        assert_eq!(c.transmit(tx, start..).unwrap(), 0);
    });
    assert_bytes_eq(&got, &want);
    Ok(())
}

fn transmit_tails_on_every_module() -> Outcome {
    let (c, want) = mixed(3 * 4096, 9)?;
    let n = want.len() as u64;
    for start in [0, 1, 4095, 4096, 4097, n - 1, n, n + 10] {
        let got = roundtrip(|tx| {
            c.transmit_all(tx, start..).unwrap();
        });
        assert_bytes_eq(&got, &want[(start.min(n)) as usize..]);
    }
    Ok(())
}

fn transmit_ranges_need_tx_range() -> Outcome {
    let (c, want) = mixed(3 * 4096, 10)?;
    let n = want.len() as u64;
    let ranges = [(0, 1), (1, 4097), (5000, n - 1), (100, 100), (0, n + 100)];
    if !c.has(Features::TX_RANGE) {
        println!("# module without KIOVEC_FEAT_TX_RANGE: checking the crate refuses");
        let (tx, _rx) = tcp_pair();
        unsupported(c.transmit(&tx, 0..1));
        unsupported(c.transmit_all(&tx, 5000..n - 1));
        return Ok(());
    }
    for (s, e) in ranges {
        let got = roundtrip(|tx| {
            c.transmit_all(tx, s..e).unwrap();
        });
        assert_bytes_eq(&got, &want[s as usize..(e.min(n)) as usize]);
    }
    Ok(())
}

fn transmit_with_header_native_or_emulated() -> Outcome {
    let (c, want) = mixed(100_000, 11)?;
    let n = want.len() as u64;
    println!("# per-request header: {}", if c.header_is_native() { "native" } else { "emulated" });
    let hdr = b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes */x\r\n\r\n";
    let got = roundtrip(|tx| {
        assert_eq!(c.transmit_all_with_header(tx, hdr, ..).unwrap(), hdr.len() as u64 + n)
    });
    assert_bytes_eq(&got, &[&hdr[..], &want].concat());
    let got = roundtrip(|tx| {
        c.transmit_all_with_header(tx, hdr, 777..).unwrap();
    });
    assert_bytes_eq(&got, &[&hdr[..], &want[777..]].concat());
    // Resumed inside the header: only the rest of it, then the body.
    let got = roundtrip(|tx| {
        let mut off = 5u64;
        while off < hdr.len() as u64 + n {
            off += c.transmit_with_header(tx, hdr, .., off).unwrap() as u64;
        }
    });
    assert_bytes_eq(&got, &[&hdr[5..], &want].concat());
    // A header longer than KIOVEC_MAX_HEADER is always emulated.
    let big = pattern(kiovec::KIOVEC_MAX_HEADER + 4000, 12);
    let got = roundtrip(|tx| {
        c.transmit_all_with_header(tx, &big, ..).unwrap();
    });
    assert_bytes_eq(&got, &[&big[..], &want].concat());
    if c.has(Features::TX_RANGE) {
        let got = roundtrip(|tx| {
            c.transmit_all_with_header(tx, hdr, 10..20).unwrap();
        });
        assert_bytes_eq(&got, &[&hdr[..], &want[10..20]].concat());
    }
    Ok(())
}

fn resume_short_counts_on_a_nonblocking_socket() -> Outcome {
    let mut c = open()?;
    let data = pattern(4 << 20, 13);
    c.add_file(memfd(&data), ..).unwrap();
    let (tx, rx) = tcp_pair();
    small_sndbuf(&tx);
    tx.set_nonblocking(true).unwrap();
    let reader = read_slowly(rx, 64 << 10, Duration::from_millis(1));
    let (mut start, mut short, mut eagain) = (0u64, 0, 0);
    while start < c.len() {
        match c.transmit(&tx, start..) {
            Ok(n) => {
                short += usize::from((n as u64) < c.len() - start);
                start += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                eagain += 1;
                let mut fds = [rustix::event::PollFd::new(&tx, rustix::event::PollFlags::OUT)];
                rustix::event::poll(&mut fds, None).unwrap();
            }
            Err(e) => panic!("transmit: {e}"),
        }
    }
    println!("# {short} short counts, {eagain} EAGAIN");
    assert!(short + eagain > 0, "the slow reader never filled the socket");
    drop(tx);
    assert_bytes_eq(&reader.join().unwrap(), &data);
    // transmit_all does the same by itself.
    let (tx, rx) = tcp_pair();
    small_sndbuf(&tx);
    tx.set_nonblocking(true).unwrap();
    let reader = read_slowly(rx, 64 << 10, Duration::from_millis(1));
    assert_eq!(c.transmit_all_with_header(&tx, b"H", ..).unwrap(), c.len() + 1);
    drop(tx);
    assert_bytes_eq(&reader.join().unwrap(), &[&b"H"[..], &data].concat());
    Ok(())
}

extern "C" fn on_sigusr1(_: libc::c_int) {}

fn resume_after_signals() -> Outcome {
    let mut c = open()?;
    let data = pattern(4 << 20, 14);
    c.add_file(memfd(&data), ..).unwrap();
    // SAFETY: installs a handler that does nothing, without SA_RESTART, so that a signal
    // interrupts a blocking transmit (EINTR or a short count).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigusr1 as *const () as usize;
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
    let c = Arc::new(c);
    let run = |manual: bool| -> (Vec<u8>, u32) {
        let (tx, rx) = tcp_pair();
        small_sndbuf(&tx);
        let reader = read_slowly(rx, 64 << 10, Duration::from_millis(1));
        let done = Arc::new(AtomicBool::new(false));
        let (tid_tx, tid_rx) = mpsc::channel();
        let c2 = c.clone();
        let d2 = done.clone();
        let sender = std::thread::spawn(move || {
            // SAFETY: pthread_self has no preconditions.
            tid_tx.send(unsafe { libc::pthread_self() } as usize).unwrap();
            let mut interrupted = 0u32;
            if manual {
                let mut start = 0u64;
                while start < c2.len() {
                    match c2.transmit(&tx, start..) {
                        Ok(n) => {
                            interrupted += u32::from((n as u64) < c2.len() - start);
                            start += n as u64;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => interrupted += 1,
                        Err(e) => panic!("transmit: {e}"),
                    }
                }
            } else {
                assert_eq!(c2.transmit_all(&tx, ..).unwrap(), c2.len());
            }
            d2.store(true, Ordering::SeqCst);
            interrupted
        });
        let tid = tid_rx.recv().unwrap() as libc::pthread_t;
        while !done.load(Ordering::SeqCst) {
            // SAFETY: the sender thread is alive until `done` (it is joined below).
            unsafe { libc::pthread_kill(tid, libc::SIGUSR1) };
            std::thread::sleep(Duration::from_millis(2));
        }
        let interrupted = sender.join().unwrap();
        (reader.join().unwrap(), interrupted)
    };
    let (got, interrupted) = run(true);
    println!("# {interrupted} transmits interrupted (EINTR or short)");
    assert!(interrupted > 0, "no signal interrupted a transmit");
    assert_bytes_eq(&got, &data);
    let (got, _) = run(false);
    assert_bytes_eq(&got, &data);
    Ok(())
}

fn transmit_errors() -> Outcome {
    let mut c = open()?;
    let empty = open()?;
    c.write_all(&pattern(100, 15)).unwrap();
    assert_eq!(errno(c.transmit(memfd(b"x"), ..)), ENOTSOCK);
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.connect(udp.local_addr().unwrap()).unwrap();
    assert_eq!(errno(c.transmit(&udp, ..)), EOPNOTSUPP);
    let (u1, _u2) = UnixStream::pair().unwrap();
    assert_eq!(errno(c.transmit(&u1, ..)), EOPNOTSUPP);
    let unconnected = rustix::net::socket(
        rustix::net::AddressFamily::INET,
        rustix::net::SocketType::STREAM,
        None,
    )
    .unwrap();
    assert_eq!(errno(c.transmit(&unconnected, ..)), EPIPE);
    let (tx, rx) = tcp_pair();
    assert_eq!(empty.transmit(&tx, ..).unwrap(), 0);
    assert_eq!(empty.transmit_all(&tx, ..).unwrap(), 0);
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = 50..10;
    assert_eq!(errno(c.transmit(&tx, reversed)), EINVAL);
    // A peer that is gone: EPIPE or ECONNRESET, without SIGPIPE.
    drop(rx);
    let mut big = open()?;
    big.add_user(pattern(1 << 20, 16)).unwrap();
    let mut last = None;
    for _ in 0..20 {
        match big.transmit_all(&tx, ..) {
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                last = e.raw_os_error();
                break;
            }
        }
    }
    assert!(matches!(last, Some(EPIPE) | Some(ECONNRESET)), "got {last:?}");
    Ok(())
}

fn a_file_that_shrank_gives_enodata() -> Outcome {
    let mut c = open()?;
    let data = pattern(3 * 4096, 17);
    let f = memfd(&data);
    c.add_file(&f, ..).unwrap();
    f.set_len(0).unwrap();
    let (tx, rx) = tcp_pair();
    assert_eq!(errno(c.transmit(&tx, ..)), ENODATA);
    assert_eq!(errno(c.transmit_all(&tx, ..)), ENODATA);
    drop(tx);
    let mut rest = Vec::new();
    let mut rx = rx;
    rx.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{} bytes of a truncated file went out", rest.len());
    Ok(())
}

fn transmit_batch_results_per_target() -> Outcome {
    let (c, want) = mixed(200_000, 18)?;
    let n = want.len() as u64;
    if !c.has(Features::TRANSMIT_BATCH) {
        unsupported(c.transmit_batch(&mut [], None, .., false));
        return Ok(());
    }
    let pairs: Vec<_> = (0..3).map(|_| tcp_pair()).collect();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.connect(udp.local_addr().unwrap()).unwrap();
    let mut targets: Vec<BatchTarget<'_>> =
        pairs.iter().map(|(tx, _)| BatchTarget::new(tx.as_fd())).collect();
    targets[1].offset = 10;
    targets.push(BatchTarget::new(udp.as_fd()));
    assert!(targets[0].result().is_none());
    let readers: Vec<_> = pairs
        .iter()
        .zip([n, n - 10, n])
        .map(|((_, rx), len)| read_n(rx.try_clone().unwrap(), len as usize))
        .collect();
    c.transmit_batch(&mut targets, None, .., false).unwrap();
    assert_eq!(targets[0].result().unwrap().unwrap() as u64, n);
    assert_eq!(targets[1].result().unwrap().unwrap() as u64, n - 10);
    assert_eq!(targets[2].result().unwrap().unwrap() as u64, n);
    assert_eq!(targets[3].result().unwrap().unwrap_err().raw_os_error(), Some(EOPNOTSUPP));
    let got: Vec<_> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert_bytes_eq(&got[0], &want);
    assert_bytes_eq(&got[1], &want[10..]);
    assert_bytes_eq(&got[2], &want);
    // With a header: the module's, or refused without KIOVEC_FEAT_TX_HEADER.
    let (tx, rx) = tcp_pair();
    let mut t = [BatchTarget::new(tx.as_fd())];
    if c.has(Features::TX_HEADER) {
        let reader = read_n(rx, 2 + want.len());
        c.transmit_batch(&mut t, Some(b"HH"), .., false).unwrap();
        assert_eq!(t[0].result().unwrap().unwrap() as u64, n + 2);
        assert_bytes_eq(&reader.join().unwrap(), &[&b"HH"[..], &want].concat());
    } else {
        unsupported(c.transmit_batch(&mut t, Some(b"HH"), .., false));
    }
    Ok(())
}

fn shared_by_threads() -> Outcome {
    let (c, want) = mixed(500_000, 19)?;
    let c = Arc::new(c);
    let want = Arc::new(want);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (c, want) = (c.clone(), want.clone());
            std::thread::spawn(move || {
                let got = roundtrip(|tx| {
                    c.transmit_all(tx, ..).unwrap();
                });
                assert_bytes_eq(&got, &want);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    Ok(())
}

fn async_transmit_under_a_slow_reader() -> Outcome {
    let mut c = open()?;
    let data = pattern(2 << 20, 20);
    c.add_file(memfd(&data), ..).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        // While the send waits for writability the runtime must run other tasks.
        let ticks = Arc::new(AtomicU64::new(0));
        let t2 = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(1)).await;
                t2.fetch_add(1, Ordering::Relaxed);
            }
        });
        // A tokio TcpStream.
        let (tx, rx) = tcp_pair();
        small_sndbuf(&tx);
        tx.set_nonblocking(true).unwrap();
        let tx = tokio::net::TcpStream::from_std(tx).unwrap();
        let reader = read_slowly(rx, 32 << 10, Duration::from_millis(1));
        assert_eq!(c.transmit_all_async(&tx, ..).await.unwrap(), c.len());
        assert_eq!(
            c.transmit_all_with_header_async(&tx, b"HDR", 100..).await.unwrap(),
            3 + c.len() - 100
        );
        drop(tx);
        let got = tokio::task::spawn_blocking(move || reader.join().unwrap()).await.unwrap();
        assert_bytes_eq(&got, &[&data[..], b"HDR", &data[100..]].concat());
        // An AsyncFd around a std socket.
        let (tx, rx) = tcp_pair();
        small_sndbuf(&tx);
        tx.set_nonblocking(true).unwrap();
        // SAFETY: the TcpStream owns its descriptor for as long as the AsyncFd owns it.
        let tx = unsafe { tokio::io::unix::AsyncFd::register(tx) }.unwrap();
        let reader = read_slowly(rx, 32 << 10, Duration::from_millis(1));
        assert_eq!(c.transmit_all_async(&tx, ..).await.unwrap(), c.len());
        drop(tx);
        let got = tokio::task::spawn_blocking(move || reader.join().unwrap()).await.unwrap();
        assert_bytes_eq(&got, &data);
        ticker.abort();
        let t = ticks.load(Ordering::Relaxed);
        println!("# the runtime ticked {t} times during the async sends");
        assert!(t > 0, "the async send blocked the runtime");
    });
    Ok(())
}

fn response_takes_the_kiovec_path() -> Outcome {
    open()?; // skips without the device
    let body = pattern(300_000, 21);
    let f = memfd(&body);
    let hdr = b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n";
    let r = Response::new(hdr, &f, ..).unwrap();
    assert_eq!(r.path(), Path::Kiovec, "fell back: {:?}", r.fallback_reason());
    let fb = Response::with_mode(hdr, &f, .., Mode::Sendfile).unwrap();
    let want = [&hdr[..], &body].concat();
    assert_bytes_eq(&roundtrip(|tx| assert_eq!(r.send(tx).unwrap(), r.len())), &want);
    assert_bytes_eq(
        &roundtrip(|tx| {
            fb.send(tx).unwrap();
        }),
        &want,
    );
    // A per-request header over a tail of the body, on both paths.
    let got = roundtrip(|tx| {
        r.send_with_header(tx, b"H2", 299_990..).unwrap();
    });
    assert_bytes_eq(&got, &[&b"H2"[..], &body[299_990..]].concat());
    let got = roundtrip(|tx| {
        fb.send_with_header(tx, b"H2", 299_990..).unwrap();
    });
    assert_bytes_eq(&got, &[&b"H2"[..], &body[299_990..]].concat());
    Ok(())
}

fn read_only_fd_sends_but_cannot_change() -> Outcome {
    let (mut c, want) = mixed(50_000, 22)?;
    if !c.has(Features::RO_FD) {
        unsupported(c.read_only_fd());
        return Ok(());
    }
    let mut ro = Container::from_owned_fd(c.read_only_fd().unwrap()).unwrap();
    assert_eq!(ro.len(), want.len() as u64);
    assert_bytes_eq(&ro.copy_out_to_vec().unwrap(), &want);
    assert_bytes_eq(
        &roundtrip(|tx| {
            ro.transmit_all(tx, ..).unwrap();
        }),
        &want,
    );
    assert_eq!(errno(ro.write(b"x")), EBADF);
    assert_eq!(errno(ro.add_user(b"x".to_vec())), EBADF);
    assert_eq!(errno(ro.add_file(memfd(b"x"), ..)), EBADF);
    assert_eq!(errno(ro.reset()), EBADF);
    // The writable container still changes it, and the read-only one sees that.
    c.write_all(b"tail").unwrap();
    assert_eq!(ro.stat().unwrap().bytes, want.len() as u64 + 4);
    Ok(())
}

type Test = (&'static str, fn() -> Outcome);

const TESTS: &[Test] = &[
    ("info_and_features", info_and_features),
    ("write_stat_copy_out", write_stat_copy_out),
    ("add_user_takes_ownership_until_reset", add_user_takes_ownership_until_reset),
    ("add_user_raw_errors_are_all_or_nothing", add_user_raw_errors_are_all_or_nothing),
    ("add_file_ranges", add_file_ranges),
    ("add_file_errors", add_file_errors),
    ("transmit_whole_to_many_sockets", transmit_whole_to_many_sockets),
    ("transmit_tails_on_every_module", transmit_tails_on_every_module),
    ("transmit_ranges_need_tx_range", transmit_ranges_need_tx_range),
    ("transmit_with_header_native_or_emulated", transmit_with_header_native_or_emulated),
    ("resume_short_counts_on_a_nonblocking_socket", resume_short_counts_on_a_nonblocking_socket),
    ("resume_after_signals", resume_after_signals),
    ("transmit_errors", transmit_errors),
    ("a_file_that_shrank_gives_enodata", a_file_that_shrank_gives_enodata),
    ("transmit_batch_results_per_target", transmit_batch_results_per_target),
    ("shared_by_threads", shared_by_threads),
    ("async_transmit_under_a_slow_reader", async_transmit_under_a_slow_reader),
    ("response_takes_the_kiovec_path", response_takes_the_kiovec_path),
    ("read_only_fd_sends_but_cannot_change", read_only_fd_sends_but_cannot_change),
];

/// How long one test may take (the guest's debug kernel under TCG is slow).
const TIMEOUT: Duration = Duration::from_secs(300);

fn main() {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let tests: Vec<&Test> = TESTS
        .iter()
        .filter(|(n, _)| filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str())))
        .collect();
    let device = std::path::Path::new(kiovec::DEVICE).exists();
    println!("TAP version 13");
    println!("1..{}", tests.len());
    let (mut pass, mut fail, mut skip) = (0, 0, 0);
    for (i, (name, f)) in tests.iter().enumerate() {
        let n = i + 1;
        if !device {
            println!(
                "ok {n} {name} # SKIP no {} (the kiovec module is not loaded)",
                kiovec::DEVICE
            );
            skip += 1;
            continue;
        }
        println!("# RUN {name}");
        let _ = io::stdout().flush();
        let (done_tx, done_rx) = mpsc::channel();
        let f = *f;
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(f);
            let _ = done_tx.send(r);
        });
        match done_rx.recv_timeout(TIMEOUT) {
            Ok(Ok(Ok(()))) => {
                pass += 1;
                println!("ok {n} {name}");
            }
            Ok(Ok(Err(Skip(why)))) => {
                skip += 1;
                println!("ok {n} {name} # SKIP {why}");
            }
            Ok(Err(_panic)) => {
                fail += 1;
                println!("not ok {n} {name}");
            }
            Err(_) => {
                fail += 1;
                println!("# {name} did not finish in {}s", TIMEOUT.as_secs());
                println!("not ok {n} {name} # TIMEOUT");
            }
        }
        let _ = io::stdout().flush();
    }
    if !device {
        println!(
            "# SKIP: {skip} of {} guest tests skipped: {} is absent",
            tests.len(),
            kiovec::DEVICE
        );
    }
    println!("# Totals: pass:{pass} fail:{fail} xfail:0 xpass:0 skip:{skip} error:0");
    std::process::exit(if fail > 0 { 1 } else { 0 });
}
