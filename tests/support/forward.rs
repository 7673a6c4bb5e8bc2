//! A TCP forwarder on loopback that a test can cut, stall and restore: the way to
//! partition an agent from the API server (or any peer) without touching the peer.
//! - `cut` closes the listening socket and every forwarded connection: clients see their
//!   streams end and new connections refused, as after a partition that resets them;
//! - `stall` keeps every connection open but moves no byte either way, and new
//!   connections are accepted and then left hanging: a partition that silently drops
//!   packets, where only the clients' own timeouts notice;
//! - `restore` ends either. After a stall, what was held back is delivered then, as TCP
//!   retransmits after a partition heals: a request sent during the stall arrives late.
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Forwarder {
    addr: SocketAddr,
    target: String,
    task: Option<JoinHandle<()>>,
    /// A cut's task, awaited before listening again (its socket must be closed first).
    cut: Option<JoinHandle<()>>,
    stalled: watch::Sender<bool>,
}

/// Copies `from` to `to`, holding every chunk while the forwarder is stalled.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut stalled: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if stalled.wait_for(|s| !*s).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        if stalled.wait_for(|s| !*s).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn serve(listener: TcpListener, target: String, stalled: watch::Receiver<bool>) {
    let mut conns = tokio::task::JoinSet::new();
    while let Ok((inbound, _)) = listener.accept().await {
        let target = target.clone();
        let mut stalled = stalled.clone();
        conns.spawn(async move {
            // a connection made during a stall hangs until it ends
            if stalled.wait_for(|s| !*s).await.is_err() {
                return;
            }
            let Ok(outbound) = TcpStream::connect(&target).await else {
                return;
            };
            let (ir, iw) = inbound.into_split();
            let (or, ow) = outbound.into_split();
            tokio::join!(pump(ir, ow, stalled.clone()), pump(or, iw, stalled.clone()));
        });
    }
}

impl Forwarder {
    /// Forwards a free loopback port to `target` (`host:port`).
    pub async fn start(target: &str) -> std::io::Result<Forwarder> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (stalled, rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, target.to_string(), rx));
        Ok(Forwarder {
            addr,
            target: target.to_string(),
            task: Some(task),
            cut: None,
            stalled,
        })
    }

    /// `127.0.0.1:PORT`: where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes the listener and every connection (aborting the task drops them all).
    pub fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            self.cut = Some(t);
        }
    }

    /// Holds every byte in both directions; connections stay open.
    pub fn stall(&mut self) {
        let _ = self.stalled.send(true);
    }

    /// Forwards again: after a stall, on the same connections; after a cut, on a new
    /// listener on the same port.
    pub async fn restore(&mut self) -> std::io::Result<()> {
        let _ = self.stalled.send(false);
        if self.task.is_some() {
            return Ok(());
        }
        if let Some(t) = self.cut.take() {
            let _ = t.await;
        }
        let listener = TcpListener::bind(self.addr).await?;
        self.task = Some(tokio::spawn(serve(
            listener,
            self.target.clone(),
            self.stalled.subscribe(),
        )));
        Ok(())
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.cut();
    }
}
