//! A TCP forwarder on loopback that a test can cut and restore: the way to partition an
//! agent from the API server (or any peer) without touching the peer. Cutting closes the
//! listening socket and every forwarded connection, so clients see their streams end and
//! new connections refused, as after a network partition that resets connections.
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Forwarder {
    addr: SocketAddr,
    target: String,
    task: Option<JoinHandle<()>>,
    /// A cut's task, awaited before listening again (its socket must be closed first).
    cut: Option<JoinHandle<()>>,
}

async fn serve(listener: TcpListener, target: String) {
    let mut conns = tokio::task::JoinSet::new();
    while let Ok((mut inbound, _)) = listener.accept().await {
        let target = target.clone();
        conns.spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

impl Forwarder {
    /// Forwards a free loopback port to `target` (`host:port`).
    pub async fn start(target: &str) -> std::io::Result<Forwarder> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(serve(listener, target.to_string()));
        Ok(Forwarder {
            addr,
            target: target.to_string(),
            task: Some(task),
            cut: None,
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

    /// Listens again on the same port.
    pub async fn restore(&mut self) -> std::io::Result<()> {
        self.cut();
        if let Some(t) = self.cut.take() {
            let _ = t.await;
        }
        let listener = TcpListener::bind(self.addr).await?;
        self.task = Some(tokio::spawn(serve(listener, self.target.clone())));
        Ok(())
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.cut();
    }
}
