//! The HTTP listener: connections in, the router's answers out.
//!
//! In: a bound TCP listener, the TLS configuration if any, the router, the bound on a
//! request head and a shutdown signal. Out: every accepted connection served over
//! HTTP/1.1 (through TLS when configured) until shutdown, then the connections in flight
//! finished. A client gets `read_header_timeout` to finish its TLS handshake, and then,
//! for each request, to send the whole head; an idle kept-alive connection gets the same
//! before its next request. Past it the connection is closed, so connections that send
//! nothing (slowloris) cost a socket for that long and no more.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tracing::debug;

/// How connections are served.
#[derive(Clone)]
pub struct Connections {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub read_header_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes, then waits for the
/// connections in flight (their requests finish; idle ones close).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    connections: Connections,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let acceptor = connections.tls.clone().map(TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    debug!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let watcher = graceful.watcher();
        let (router, acceptor) = (router.clone(), acceptor.clone());
        let timeout = connections.read_header_timeout;
        tokio::spawn(async move {
            let service = TowerToHyperService::new(router);
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new()).header_read_timeout(timeout);
            let served = match acceptor {
                None => {
                    watcher
                        .watch(http.serve_connection(TokioIo::new(stream), service))
                        .await
                }
                Some(acceptor) => {
                    let Some(tls) = handshake(&acceptor, stream, timeout).await else {
                        return;
                    };
                    watcher
                        .watch(http.serve_connection(TokioIo::new(tls), service))
                        .await
                }
            };
            if let Err(error) = served {
                debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    timeout: Duration,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let peer = stream.peer_addr().ok();
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(error)) => {
            debug!(?peer, %error, "TLS handshake failed");
            None
        }
        Err(_) => {
            debug!(?peer, "TLS handshake timed out");
            None
        }
    }
}
