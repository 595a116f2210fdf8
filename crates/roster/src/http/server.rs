//! The connection loop: HTTP/1.1 with a deadline for a request's headers and bounds on open connections — in all,
//! and per client address — so a client that opens connections and sends nothing (or half a request) cannot hold the
//! server's sockets, and one client cannot take the slots of the others. A few connections past the bound are kept
//! for health checks, so `/healthz` and `/readyz` answer while the rest are taken.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How connections are served.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A request's headers must arrive within this time; an idle kept-alive connection is closed after as long.
    pub header_read_timeout: Duration,
    /// Open connections at most (besides the health reserve); past it a new connection is answered 503 at once.
    pub max_connections: usize,
    /// Open connections from one client address at most; past it a new connection is answered 429 at once.
    pub max_connections_per_address: usize,
}

/// Connections kept for health checks once every other slot is taken: served one request each, by a router that
/// answers only the health routes.
pub const HEALTH_RESERVE: usize = 8;

/// Where a client's connections are counted: its address, or for IPv6 its /64 (one host has a whole /64 to pick
/// addresses from).
fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
        v4 => v4,
    }
}

/// Open connections per client.
#[derive(Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

/// One open connection of a client: counted until dropped.
struct ClientSlot {
    clients: Arc<PerClient>,
    client: IpAddr,
}

impl PerClient {
    fn take(self: &Arc<Self>, ip: IpAddr, limit: usize) -> Option<ClientSlot> {
        let client = client_of(ip);
        let mut open = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(client).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(ClientSlot { clients: self.clone(), client })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.clients.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

/// Answer a connection that gets no slot, and close it: one write into the fresh socket's empty send buffer, never a
/// wait on the client.
fn refuse(stream: TcpStream, status: &str, slug: &str, detail: &str) {
    let body = serde_json::json!({
        "type": format!("urn:roster:problem:{slug}"),
        "title": status.split_once(' ').map_or(status, |(_, title)| title),
        "status": status.split_once(' ').and_then(|(code, _)| code.parse::<u16>().ok()),
        "detail": detail,
    })
    .to_string();
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
}

/// Serve `router` on `listener` until `shutdown` resolves; then stop accepting and wait for open connections to finish
/// their requests. `health` answers the connections of the health reserve.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    health: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let reserve = Arc::new(Semaphore::new(HEALTH_RESERVE));
    let clients = Arc::new(PerClient::default());
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let mut health_builder = builder.clone();
    health_builder.keep_alive(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // out of file descriptors, or a connection reset before it was accepted: wait a moment
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(client_slot) = clients.take(peer.ip(), limits.max_connections_per_address) else {
            metrics::counter!("roster_connections_refused_total", "reason" => "per_address").increment(1);
            refuse(
                stream,
                "429 Too Many Requests",
                "too-many-connections",
                "this address has too many open connections",
            );
            continue;
        };
        let (slot, health_only): (OwnedSemaphorePermit, bool) = match slots.clone().try_acquire_owned() {
            Ok(slot) => (slot, false),
            Err(_) => match reserve.clone().try_acquire_owned() {
                Ok(slot) => (slot, true),
                Err(_) => {
                    metrics::counter!("roster_connections_refused_total", "reason" => "full").increment(1);
                    refuse(stream, "503 Service Unavailable", "unavailable", "the server is at its connection limit");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = if health_only { health.clone() } else { router.clone() };
        let service = tower::ServiceExt::map_request(service, move |mut request: axum::extract::Request<_>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let builder = if health_only { &health_builder } else { &builder };
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(slot);
            drop(client_slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_its_address_or_its_ipv6_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client_of(ip("10.0.0.7")), ip("10.0.0.7"));
        assert_eq!(client_of(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(client_of(ip("2001:db8:1:2:ffff::9")), client_of(ip("2001:db8:1:2::1")));
        assert_ne!(client_of(ip("2001:db8:1:3::1")), client_of(ip("2001:db8:1:2::1")));
        assert_eq!(client_of(ip("::ffff:10.0.0.7")), ip("10.0.0.7"));
    }

    #[test]
    fn a_clients_slots_are_counted_and_given_back() {
        let clients = Arc::new(PerClient::default());
        let a = "10.0.0.1".parse().unwrap();
        let held: Vec<ClientSlot> = (0..3).map(|_| clients.take(a, 3).unwrap()).collect();
        assert!(clients.take(a, 3).is_none(), "a fourth is refused");
        assert!(clients.take("10.0.0.2".parse().unwrap(), 3).is_some(), "another client is not");
        drop(held);
        assert!(clients.take(a, 3).is_some(), "given back when they close");
        assert!(clients.0.lock().unwrap().len() <= 1, "closed clients are forgotten");
    }
}
