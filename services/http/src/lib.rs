//! The HTTP/1.1 server every ptrack service (and the web demo) runs its axum `Router` on:
//! [`serve`] is `axum::serve` plus what a server facing the internet needs and
//! `axum::serve` does not offer:
//!
//! - a client that does not send its request headers within [`Limits::header_timeout`]
//!   is disconnected (hyper's header read timeout; it also bounds an idle keep-alive
//!   connection waiting for its next request);
//! - a request body not received whole within [`Limits::body_timeout`] of the request's
//!   start fails to read (the handler answers its usual "body could not be read" error),
//!   so a trickling body cannot hold a connection either;
//! - at most [`Limits::max_connections`] connections are open at once: further clients
//!   wait in the listen backlog (they are accepted as soon as one closes), so the service
//!   stays responsive to the ones it has;
//! - every request carries `axum::extract::ConnectInfo<SocketAddr>` (the peer address);
//! - on shutdown it stops accepting, lets each connection finish its request in flight,
//!   and returns once all are closed.
//!
//! It depends on nothing of the pipeline, so the web demo (which depends on no crate of
//! the pipeline: like a customer's site, its contract is `POST /track`) uses it as well.
//!
//! Layout: this file (the server; the body deadline is [`DeadlineBody`]) and [`metrics`]
//! (`/metrics` in OpenMetrics and the request-duration histogram every service has).

pub mod metrics;

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{Router, extract::ConnectInfo};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::TcpListener,
    sync::Semaphore,
    time::{Instant, Sleep},
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

/// How long a client may take, and how many may be connected at once. Each service's
/// config flattens it, so every service has the same three settings.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Limits {
    /// Milliseconds a client has to send a request's headers (and the longest an idle
    /// keep-alive connection is kept); a slower one is disconnected.
    #[arg(
        long = "http-header-timeout-ms",
        env = "HTTP_HEADER_TIMEOUT_MS",
        value_name = "HTTP_HEADER_TIMEOUT_MS",
        default_value = "10000",
        value_parser = positive_millis
    )]
    pub header_timeout: Duration,
    /// Milliseconds from a request's start until its whole body must have arrived; a
    /// slower body fails to read and the request is answered with an error.
    #[arg(
        long = "http-body-timeout-ms",
        env = "HTTP_BODY_TIMEOUT_MS",
        value_name = "HTTP_BODY_TIMEOUT_MS",
        default_value = "30000",
        value_parser = positive_millis
    )]
    pub body_timeout: Duration,
    /// Most connections open at once; more clients wait to be accepted until one closes.
    #[arg(
        long = "http-max-connections",
        env = "HTTP_MAX_CONNECTIONS",
        value_name = "HTTP_MAX_CONNECTIONS",
        default_value = "1024",
        value_parser = positive_count
    )]
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

fn positive_millis(value: &str) -> Result<Duration, String> {
    match value.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err("expected a positive number of milliseconds, like 10000".into()),
    }
}

fn positive_count(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a positive integer, like 1024".into()),
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then stops
/// accepting and waits for the open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let stop = CancellationToken::new();
    tokio::pin!(shutdown);
    loop {
        // The permit first: over the cap, new clients wait in the backlog, not here.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit,
            () = &mut shutdown => break,
        };
        // The semaphore is never closed.
        let Ok(permit) = permit else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small answers go out at once instead of waiting for Nagle's timer.
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let stop = stop.clone();
        let body_timeout = limits.body_timeout;
        let header_timeout = limits.header_timeout;
        connections.spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let started = Instant::now();
                let mut request =
                    request.map(|body| DeadlineBody::new(body, started + body_timeout));
                request.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(request)
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let outcome = tokio::select! {
                outcome = connection.as_mut() => outcome,
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = outcome {
                // Timeouts and clients that went away: routine, and the client's doing.
                tracing::debug!(%peer, %err, "connection ended with an error");
            }
        });
    }
    stop.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}

/// An accept error: a connection that failed before it was accepted is the client's
/// problem; anything else (out of file descriptors) is waited out, as `axum::serve` does.
async fn accept_failed(err: io::Error) {
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%err, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// A request body that fails once its deadline has passed. The timer is only armed when
/// the body is not ready at once, so a request whose body is already here costs nothing.
pub struct DeadlineBody {
    inner: Incoming,
    deadline: Instant,
    timer: Option<Pin<Box<Sleep>>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, deadline: Instant) -> Self {
        Self {
            inner,
            deadline,
            timer: None,
        }
    }
}

/// The error a body past its deadline reads as.
#[derive(Debug)]
pub struct BodyTimeout;

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body was not received in time (HTTP_BODY_TIMEOUT_MS)")
    }
}

impl std::error::Error for BodyTimeout {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(BoxError::from)));
        }
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
