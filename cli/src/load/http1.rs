//! The generator's HTTP/1.1 connection: one request at a time on a kept-alive TCP
//! connection, the request written with one `writev`, the answer read with as few
//! reads as it takes; `httparse` reads the answer's head and chunk sizes.
//!
//! A load generator needs little of a general client (no pool, no redirects, no
//! upgrades, no request streaming), and at the maximum rate every instruction a
//! request shows up in the rate: hyper's client machinery (its dispatcher, header map
//! and body channel) was about two thirds of `ptrack load`'s own work a request.

use std::{
    error::Error as StdError,
    io::{self, IoSlice},
    net::SocketAddr,
    time::Duration,
};

use httparse::Status;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// An answer's head larger than this is refused: no server sends one to a POST.
const MAX_HEAD: usize = 64 * 1024;
/// An answer's body larger than this is refused: the collector's are a few hundred bytes.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Headers an answer may have.
const MAX_HEADERS: usize = 64;

/// A request that got no HTTP answer: a short kind for grouping, and what happened.
#[derive(Debug)]
pub struct Failure {
    pub kind: &'static str,
    pub detail: String,
}

impl Failure {
    pub fn new(kind: &'static str, context: &str, err: &dyn StdError) -> Self {
        let mut detail = format!("{context}: {err}");
        let mut source = err.source();
        while let Some(cause) = source {
            detail.push_str(": ");
            detail.push_str(&cause.to_string());
            source = cause.source();
        }
        Self { kind, detail }
    }

    fn closed_early() -> Self {
        Self {
            kind: "request",
            detail: "the server closed the connection before answering".into(),
        }
    }

    fn body(detail: impl Into<String>) -> Self {
        Self {
            kind: "body",
            detail: detail.into(),
        }
    }
}

fn body_too_large() -> Failure {
    Failure::body(format!("the answer's body is larger than {MAX_BODY} bytes"))
}

/// What came back: the status, and whether the connection can carry another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub reusable: bool,
}

/// How the answer's body ends.
enum Framing {
    Length(usize),
    Chunked,
    /// No length given: the body runs to the end of the connection.
    UntilClose,
}

/// The parts of an answer's head that matter here.
struct Head {
    status: u16,
    len: usize,
    framing: Framing,
    keep_alive: bool,
}

pub struct Connection {
    stream: TcpStream,
    /// What has been read of the current answer.
    read: Vec<u8>,
}

impl Connection {
    /// Connects to the first of `addrs` that accepts within `timeout`.
    pub async fn open(addrs: &[SocketAddr], timeout: Duration) -> Result<Self, Failure> {
        let mut refused = None;
        for addr in addrs {
            let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => {
                    let context = format!("cannot connect to {addr}");
                    refused = Some(Failure::new("connect", &context, &err));
                    continue;
                }
                Err(_) => {
                    refused = Some(Failure {
                        kind: "timeout",
                        detail: format!(
                            "connecting to {addr} took longer than {}",
                            crate::duration::format(timeout)
                        ),
                    });
                    continue;
                }
            };
            // Requests are small and each waits for its answer: send them at once.
            if let Err(err) = stream.set_nodelay(true) {
                return Err(Failure::new("connect", "cannot set TCP_NODELAY", &err));
            }
            return Ok(Self {
                stream,
                read: Vec::with_capacity(4096),
            });
        }
        Err(refused.unwrap_or_else(|| Failure {
            kind: "connect",
            detail: "no address to connect to".into(),
        }))
    }

    /// Sends a request (`head` ends with its blank line) and reads its whole answer,
    /// whose body lands in `body`.
    pub async fn exchange(
        &mut self,
        head: &[u8],
        request_body: &[u8],
        body: &mut Vec<u8>,
    ) -> Result<Answer, Failure> {
        self.write(head, request_body)
            .await
            .map_err(|err| Failure::new("request", "sending the request failed", &err))?;
        self.read.clear();
        body.clear();
        let head = loop {
            let head = self.read_head().await?;
            // An interim answer (100 Continue): the real one follows.
            if (100..200).contains(&head.status) {
                self.read.drain(..head.len);
                continue;
            }
            break head;
        };
        let start = head.len;
        let end = match head.framing {
            Framing::Length(len) => {
                if len > MAX_BODY {
                    return Err(Failure::body(format!(
                        "the answer's body of {len} bytes is larger than {MAX_BODY} bytes"
                    )));
                }
                self.fill_to(start + len).await?;
                body.extend_from_slice(&self.read[start..start + len]);
                start + len
            }
            Framing::Chunked => self.read_chunks(start, body).await?,
            Framing::UntilClose => {
                while self.fill().await? > 0 {
                    if self.read.len() - start > MAX_BODY {
                        return Err(body_too_large());
                    }
                }
                body.extend_from_slice(&self.read[start..]);
                return Ok(Answer {
                    status: head.status,
                    reusable: false,
                });
            }
        };
        Ok(Answer {
            status: head.status,
            // Bytes beyond the answer were not asked for: the connection is out of step.
            reusable: head.keep_alive && self.read.len() == end,
        })
    }

    /// Resolves when the idle connection can no longer carry a request: the server
    /// closed it, or sent something nobody asked for.
    pub async fn closed(&self) {
        let mut probe = [0u8; 256];
        loop {
            if self.stream.readable().await.is_err() {
                return;
            }
            match self.stream.try_read(&mut probe) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
                _ => return,
            }
        }
    }

    async fn write(&mut self, head: &[u8], body: &[u8]) -> io::Result<()> {
        let mut written = 0;
        while written < head.len() + body.len() {
            let n = if written < head.len() {
                let parts = [IoSlice::new(&head[written..]), IoSlice::new(body)];
                self.stream.write_vectored(&parts).await?
            } else {
                self.stream.write(&body[written - head.len()..]).await?
            };
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            written += n;
        }
        Ok(())
    }

    /// Reads until `read` holds a whole head, and reads it.
    async fn read_head(&mut self) -> Result<Head, Failure> {
        loop {
            if !self.read.is_empty()
                && let Some(head) = parse_head(&self.read)?
            {
                return Ok(head);
            }
            if self.read.len() > MAX_HEAD {
                return Err(Failure {
                    kind: "request",
                    detail: format!("the answer's head is larger than {MAX_HEAD} bytes"),
                });
            }
            if self.fill().await? == 0 {
                return Err(Failure::closed_early());
            }
        }
    }

    /// Reads a chunked body from `read[pos..]` into `body`; where the answer ends.
    async fn read_chunks(&mut self, mut pos: usize, body: &mut Vec<u8>) -> Result<usize, Failure> {
        loop {
            let (used, size) = match httparse::parse_chunk_size(&self.read[pos..]) {
                Ok(Status::Complete(found)) => found,
                Ok(Status::Partial) => {
                    self.more().await?;
                    continue;
                }
                Err(httparse::InvalidChunkSize) => {
                    return Err(Failure::body("a chunk of the answer has a bad size line"));
                }
            };
            pos += used;
            if size == 0 {
                return self.skip_trailers(pos).await;
            }
            let size = usize::try_from(size)
                .ok()
                .filter(|&size| body.len() + size <= MAX_BODY)
                .ok_or_else(body_too_large)?;
            self.fill_to(pos + size + 2).await?;
            if &self.read[pos + size..pos + size + 2] != b"\r\n" {
                return Err(Failure::body("a chunk of the answer does not end in CRLF"));
            }
            body.extend_from_slice(&self.read[pos..pos + size]);
            pos += size + 2;
        }
    }

    /// Skips the trailer lines after the last chunk, up to the blank line.
    async fn skip_trailers(&mut self, mut pos: usize) -> Result<usize, Failure> {
        loop {
            match self.read[pos..].windows(2).position(|w| w == b"\r\n") {
                Some(0) => return Ok(pos + 2),
                Some(line) => pos += line + 2,
                None => self.more().await?,
            }
        }
    }

    /// Reads until `read` holds at least `len` bytes.
    async fn fill_to(&mut self, len: usize) -> Result<(), Failure> {
        while self.read.len() < len {
            self.more().await?;
        }
        Ok(())
    }

    /// Reads more of an answer that is not complete yet.
    async fn more(&mut self) -> Result<(), Failure> {
        match self.fill().await? {
            0 => Err(Failure::body(
                "the server closed the connection in the middle of an answer",
            )),
            _ => Ok(()),
        }
    }

    /// One read into `read`: how many bytes came (0 at the end of the stream).
    async fn fill(&mut self) -> Result<usize, Failure> {
        self.read.reserve(4096);
        self.stream
            .read_buf(&mut self.read)
            .await
            .map_err(|err| Failure::new("request", "reading the answer failed", &err))
    }
}

/// The head at the start of `read`, or `None` when it is not all there yet.
fn parse_head(read: &[u8]) -> Result<Option<Head>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(read) {
        Ok(Status::Complete(len)) => len,
        Ok(Status::Partial) => return Ok(None),
        Err(err) => return Err(Failure::new("request", "the answer is not HTTP/1", &err)),
    };
    let status = response.code.unwrap_or_default();
    // HTTP/1.1 keeps the connection unless told otherwise; HTTP/1.0 only when told.
    let mut keep_alive = response.version == Some(1);
    let mut length = None;
    let mut chunked = false;
    for header in response.headers.iter() {
        let value = header.value;
        if header.name.eq_ignore_ascii_case("content-length") {
            let parsed = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| length.is_none_or(|seen| seen == n))
                .ok_or_else(|| Failure {
                    kind: "request",
                    detail: format!(
                        "the answer has a bad Content-Length: {:?}",
                        String::from_utf8_lossy(value)
                    ),
                })?;
            length = Some(parsed);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked is the last coding when it is there at all.
            chunked = value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if header.name.eq_ignore_ascii_case("connection") {
            for option in value.split(|&b| b == b',') {
                let option = option.trim_ascii();
                if option.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if option.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let framing = if status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if let Some(length) = length {
        Framing::Length(length)
    } else {
        Framing::UntilClose
    };
    Ok(Some(Head {
        status,
        len,
        framing,
        keep_alive,
    }))
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    const HEAD: &[u8] = b"POST /track HTTP/1.1\r\nhost: test\r\ncontent-length: 2\r\n\r\n";

    /// A server that reads one request and then writes `pieces`, pausing between them so
    /// the client sees them in separate reads; then keeps the connection open a while.
    async fn server(pieces: &'static [&'static [u8]]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            while !request.ends_with(b"\r\n\r\n{}") {
                let mut chunk = [0u8; 1024];
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the client closed before its request was whole");
                request.extend_from_slice(&chunk[..n]);
            }
            assert_eq!(&request[..HEAD.len()], HEAD);
            for piece in pieces {
                stream.write_all(piece).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        });
        addr
    }

    async fn exchange(pieces: &'static [&'static [u8]]) -> Result<(Answer, String), Failure> {
        let addr = server(pieces).await;
        let mut connection = Connection::open(&[addr], Duration::from_secs(1)).await?;
        let mut body = Vec::new();
        let answer = connection.exchange(HEAD, b"{}", &mut body).await?;
        Ok((answer, String::from_utf8(body).unwrap()))
    }

    fn answer(status: u16, reusable: bool, body: &str) -> (Answer, String) {
        (Answer { status, reusable }, body.to_owned())
    }

    #[tokio::test]
    async fn a_body_with_a_length_is_read_across_reads() {
        let got = exchange(&[
            b"HTTP/1.1 200 OK\r\nContent-Le",
            b"ngth: 11\r\n\r\nhello",
            b" world",
        ])
        .await
        .unwrap();
        assert_eq!(got, answer(200, true, "hello world"));
    }

    #[tokio::test]
    async fn a_chunked_body_with_trailers_is_joined() {
        let got = exchange(&[
            b"HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel",
            b"lo\r\n6;ext=1\r\n world\r\n0\r\n",
            b"x-trailer: 1\r\n\r\n",
        ])
        .await
        .unwrap();
        assert_eq!(got, answer(503, true, "hello world"));
    }

    #[tokio::test]
    async fn connection_close_and_http_1_0_end_the_connection() {
        let got =
            exchange(&[b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"])
                .await
                .unwrap();
        assert_eq!(got, answer(200, false, "ok"));
        let got = exchange(&[b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok"])
            .await
            .unwrap();
        assert_eq!(got, answer(200, false, "ok"));
        let got = exchange(&[
            b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 2\r\n\r\nok",
        ])
        .await
        .unwrap();
        assert_eq!(got, answer(200, true, "ok"));
    }

    #[tokio::test]
    async fn interim_answers_are_skipped_and_204_has_no_body() {
        let got = exchange(&[
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
        ])
        .await
        .unwrap();
        assert_eq!(got, answer(204, true, ""));
    }

    #[tokio::test]
    async fn bytes_beyond_the_answer_make_the_connection_unusable() {
        let got = exchange(&[b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n"])
            .await
            .unwrap();
        assert_eq!(got, answer(200, false, "ok"));
    }

    #[tokio::test]
    async fn broken_answers_are_failures_with_a_reason() {
        let err = exchange(&[b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort"])
            .await
            .unwrap_err();
        assert_eq!(err.kind, "body");
        assert!(err.detail.contains("middle of an answer"), "{err:?}");

        let err = exchange(&[b"SMTP ready\r\n\r\n"]).await.unwrap_err();
        assert_eq!(err.kind, "request");
        assert!(err.detail.contains("not HTTP/1"), "{err:?}");

        let err = exchange(&[b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n"])
            .await
            .unwrap_err();
        assert!(err.detail.contains("bad Content-Length"), "{err:?}");

        // Too large to read: refused from the length alone, before any of the body.
        let err = exchange(&[b"HTTP/1.1 200 OK\r\ncontent-length: 99999999\r\n\r\n"])
            .await
            .unwrap_err();
        assert_eq!(err.kind, "body");
        assert!(err.detail.contains("larger than 16777216 bytes"), "{err:?}");
        let err = exchange(&[b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5F5E0FF\r\n"])
            .await
            .unwrap_err();
        assert!(err.detail.contains("larger than 16777216 bytes"), "{err:?}");

        let err = exchange(&[]).await.unwrap_err();
        assert!(
            err.detail
                .contains("closed the connection before answering"),
            "{err:?}"
        );
    }
}
