//! Where the HTTP client connects: TCP loopback or a Unix domain socket.
//!
//! hyper-util's client takes any `Service<Uri>` as its connector; this one
//! ignores the URI's authority when it is given a socket path, so the same
//! `http://localhost/mcp` URLs work over both.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;

/// How long a TCP connection attempt may take (a remote workspace's host
/// may drop packets rather than refuse).
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Connects to TCP `host:port` from the URI, or to a fixed Unix socket.
#[derive(Debug, Clone, Default)]
pub struct Connector {
    /// When set, every connection goes to this Unix domain socket.
    uds: Option<PathBuf>,
}

impl Connector {
    /// TCP, to the URI's host and port.
    pub fn tcp() -> Self {
        Connector { uds: None }
    }

    /// The Unix domain socket at `path`, whatever the URI.
    pub fn unix(path: PathBuf) -> Self {
        Connector { uds: Some(path) }
    }
}

/// A connected TCP or Unix stream.
pub enum Stream {
    /// TCP, with `TCP_NODELAY`.
    Tcp(TcpStream),
    /// A Unix domain socket.
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let uds = self.uds.clone();
        Box::pin(async move {
            #[cfg(unix)]
            if let Some(path) = uds {
                return UnixStream::connect(path).await.map(|s| TokioIo::new(Stream::Unix(s)));
            }
            #[cfg(not(unix))]
            let _ = uds;
            let host = uri
                .host()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "URI has no host"))?;
            let port = uri.port_u16().unwrap_or(80);
            // A host that drops packets would otherwise hold a connection
            // attempt for the kernel's SYN retries (about 2 minutes).
            let connecting = TcpStream::connect((host.trim_matches(|c| c == '[' || c == ']'), port));
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("connecting to {host}:{port} timed out")))??;
            stream.set_nodelay(true)?;
            Ok(TokioIo::new(Stream::Tcp(stream)))
        })
    }
}
