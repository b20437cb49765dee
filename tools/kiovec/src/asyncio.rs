//! Sends on non-blocking tokio sockets (feature `tokio`).

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::util::ended_early;

/// A non-blocking socket registered with tokio's reactor, that the async sends wait on.
///
/// Implemented for [`tokio::net::TcpStream`] and for [`AsyncFd`] around any descriptor
/// (a socket you registered yourself). The socket must be non-blocking, as both are.
pub trait AsyncSocket: AsFd + Sync {
    /// Waits until the socket is writable, then runs `io`; if `io` fails with
    /// [`WouldBlock`](io::ErrorKind::WouldBlock), clears the readiness and waits again.
    fn write_io<R, F>(&self, io: F) -> impl Future<Output = io::Result<R>> + Send
    where
        F: FnMut() -> io::Result<R> + Send,
        R: Send;
}

impl AsyncSocket for TcpStream {
    async fn write_io<R, F>(&self, mut io: F) -> io::Result<R>
    where
        F: FnMut() -> io::Result<R> + Send,
        R: Send,
    {
        loop {
            self.writable().await?;
            match self.try_io(Interest::WRITABLE, &mut io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return r,
            }
        }
    }
}

impl<T: AsRawFd + Send + Sync> AsyncSocket for AsyncFd<T> {
    async fn write_io<R, F>(&self, mut io: F) -> io::Result<R>
    where
        F: FnMut() -> io::Result<R> + Send,
        R: Send,
    {
        loop {
            let mut guard = self.writable().await?;
            match guard.try_io(|_| io()) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

/// The async twin of [`send_all_blocking`](crate::util::send_all_blocking): `once(sent)`
/// must not block (`KIOVEC_TX_DONTWAIT`, `MSG_DONTWAIT`, a non-blocking socket).
pub(crate) async fn send_all_async<S: AsyncSocket>(
    sock: &S,
    total: u64,
    mut once: impl FnMut(u64) -> io::Result<usize> + Send,
) -> io::Result<u64> {
    let mut sent = 0u64;
    while sent < total {
        match sock.write_io(|| once(sent)).await {
            Ok(0) => return Err(ended_early(sent, total)),
            Ok(n) => sent += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}
