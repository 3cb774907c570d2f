//! What kind of failure an error line reports: a refused connection, a timeout, a reset, an
//! IO error, … . Callers of a dead pod log *refused* (then Envoy's *no healthy upstream*);
//! callers cut off from it by a partition log *timed out*; a failing disk says *Input/output
//! error* in the database's own log and in its clients' exceptions. The detectors' log events
//! carry the lines; this names the failure mode those lines share, so a record of a partition
//! on one service resembles a partition on another rather than any fault whose callers erred.
//!
//! One line can mention several (a Mongo driver "timed out … caused by Connection refused").
//! The kinds are checked in a fixed order, most specific first, and the first found wins:
//! resource exhaustion and IO errors before the connection-level words they often wrap
//! (HikariCP's "Connection is not available, request timed out" is an exhausted pool, not a
//! network timeout), and a refusal before the timeout a client gave up after. Spring's
//! wrapper "I/O error on POST request" names no kind by itself: its cause follows.
//!
//! Invariants: pure; never panics on any input; ASCII case-insensitive.

/// The failure mode an error line reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureKind {
    /// Out of memory (`OutOfMemoryError`, `OOMKilled`, `Cannot allocate memory`).
    OutOfMemory,
    /// No space left on a device.
    DiskFull,
    /// The storage said EIO (`Input/output error`, MySQL's "error 5 from storage engine").
    IoError,
    /// A connection pool or server connection limit ran out (`Too many connections`).
    PoolExhausted,
    /// The peer refused the connection (nothing listening: the pod is down or restarting).
    Refused,
    /// Envoy had no ready endpoint for the destination.
    NoHealthyUpstream,
    /// The connection was reset or closed mid-request (`reset by peer`, `socket hang up`).
    Reset,
    /// The caller gave up waiting (`timed out`, `ETIMEDOUT`, `deadline exceeded`).
    Timeout,
    /// The peer answered with an HTTP 5xx status.
    ServerError,
}

impl FailureKind {
    /// The signal name used in symptom signatures and evidence (`log_timeout`, …).
    #[must_use]
    pub fn signal(self) -> &'static str {
        match self {
            Self::OutOfMemory => "log_out_of_memory",
            Self::DiskFull => "log_disk_full",
            Self::IoError => "log_io_error",
            Self::PoolExhausted => "log_pool_exhausted",
            Self::Refused => "log_refused",
            Self::NoHealthyUpstream => "log_no_healthy_upstream",
            Self::Reset => "log_reset",
            Self::Timeout => "log_timeout",
            Self::ServerError => "log_server_error",
        }
    }

    /// The kind whose [`FailureKind::signal`] is `name`.
    #[must_use]
    pub fn from_signal(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.signal() == name)
    }

    /// Every kind, in the order they are checked.
    pub const ALL: [Self; 9] = [
        Self::OutOfMemory,
        Self::DiskFull,
        Self::IoError,
        Self::PoolExhausted,
        Self::Refused,
        Self::NoHealthyUpstream,
        Self::Reset,
        Self::Timeout,
        Self::ServerError,
    ];

    fn phrases(self) -> &'static [&'static str] {
        match self {
            Self::OutOfMemory => &[
                "outofmemoryerror",
                "out of memory",
                "oomkilled",
                "cannot allocate memory",
                "enomem",
            ],
            Self::DiskFull => &["no space left on device", "enospc", "disk full"],
            Self::IoError => &[
                "input/output error",
                "error 5 from storage engine",
                "operating system error number 5",
                "eio:",
            ],
            Self::PoolExhausted => &[
                "too many connections",
                "too many clients",
                "connection pool exhausted",
                "pool exhausted",
                "connection is not available, request timed out",
                "timeout waiting for connection from pool",
                "unable to acquire jdbc connection",
                "remaining connection slots are reserved",
            ],
            Self::Refused => &[
                "connection refused",
                "connect refused",
                "econnrefused",
                "refused to connect",
            ],
            Self::NoHealthyUpstream => &["no healthy upstream"],
            Self::Reset => &[
                "connection reset",
                "reset by peer",
                "econnreset",
                "socket hang up",
                "unexpected end of file from server",
                "broken pipe",
                "upstream connect error or disconnect/reset",
            ],
            Self::Timeout => &[
                "timed out",
                "timeout",
                "etimedout",
                "esockettimedout",
                "deadline exceeded",
                "deadline_exceeded",
            ],
            Self::ServerError => &[],
        }
    }
}

/// The failure mode `line` reports, if any (see the module documentation for the order).
#[must_use]
pub fn classify(line: &str) -> Option<FailureKind> {
    let lower = line.to_ascii_lowercase();
    FailureKind::ALL.into_iter().find(|kind| {
        if *kind == FailureKind::ServerError {
            server_error(&lower)
        } else {
            kind.phrases().iter().any(|phrase| lower.contains(phrase))
        }
    })
}

/// The most specific kind either text reports (a masked template and its raw example: the
/// template keeps words a truncated example lost, the example keeps numbers the mask hid).
#[must_use]
pub fn classify_evidence(template: &str, example: &str) -> Option<FailureKind> {
    match (classify(template), classify(example)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// An HTTP 5xx status reported as such: a three-digit `5xx` token in a line that speaks of a
/// status or of HTTP (`status code 503`, `HttpServerErrorException: 500`), so that a duration
/// of 500 ms is not one.
fn server_error(lower: &str) -> bool {
    if !(lower.contains("status") || lower.contains("http")) {
        return false;
    }
    super::keywords::has_5xx_token(lower.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulated_client_errors_name_their_cause() {
        let cases = [
            (
                "org.springframework.web.client.ResourceAccessException: I/O error on POST request for \"http://payment/payment\": Connection refused (Connection refused)",
                FailureKind::Refused,
            ),
            (
                "org.springframework.web.client.ResourceAccessException: I/O error on POST request for \"http://payment:80/payment\": connect timed out; nested exception is java.net.SocketTimeoutException: connect timed out",
                FailureKind::Timeout,
            ),
            (
                "I/O error on POST request: Unexpected end of file from server",
                FailureKind::Reset,
            ),
            (
                "org.springframework.web.client.HttpServerErrorException: 503 Service Unavailable: [no healthy upstream]",
                FailureKind::NoHealthyUpstream,
            ),
            (
                "org.springframework.web.client.HttpServerErrorException: 500 Internal Server Error",
                FailureKind::ServerError,
            ),
            ("dial tcp user-db:27017: i/o timeout", FailureKind::Timeout),
            (
                "dial tcp user-db:27017: connect: connection refused",
                FailureKind::Refused,
            ),
            (
                "Error 1030: Got error 5 from storage engine",
                FailureKind::IoError,
            ),
            ("read: connection reset by peer", FailureKind::Reset),
            ("Error: ESOCKETTIMEDOUT", FailureKind::Timeout),
            ("Error: socket hang up", FailureKind::Reset),
            (
                "Error: Redis connection to session-db:6379 failed - connect ECONNREFUSED 10.96.41.12:6379",
                FailureKind::Refused,
            ),
            (
                "Error: Request failed with status code 500 from http://orders",
                FailureKind::ServerError,
            ),
            (
                "WiredTiger error (5) [1:0x7f3a], file:collection-2.wt, WT_CURSOR.insert: write error: failed to write 4096 bytes at offset 12: Input/output error",
                FailureKind::IoError,
            ),
            (
                "[ERROR] InnoDB: Error number 5 means 'Input/output error'",
                FailureKind::IoError,
            ),
        ];
        for (line, kind) in cases {
            assert_eq!(classify(line), Some(kind), "{line}");
        }
    }

    #[test]
    fn a_refusal_outranks_the_timeout_that_followed_it() {
        let line = "DataAccessResourceFailureException: Timed out after 10000 ms while waiting to connect. Client view of cluster state is {type=UNKNOWN, exception={com.mongodb.MongoSocketOpenException: Exception opening socket}, caused by {java.net.ConnectException: Connection refused (Connection refused)}}";
        assert_eq!(classify(line), Some(FailureKind::Refused));
        let read_timeout = "Timed out after 10000 ms while waiting for a server. exception={com.mongodb.MongoSocketReadTimeoutException: Timeout while receiving message}";
        assert_eq!(classify(read_timeout), Some(FailureKind::Timeout));
    }

    #[test]
    fn an_exhausted_pool_is_not_a_network_timeout() {
        assert_eq!(
            classify(
                "HikariPool-1 - Connection is not available, request timed out after 30000ms."
            ),
            Some(FailureKind::PoolExhausted)
        );
        assert_eq!(
            classify("ERROR 1040 (HY000): Too many connections"),
            Some(FailureKind::PoolExhausted)
        );
        assert_eq!(
            classify("java.lang.OutOfMemoryError: Java heap space"),
            Some(FailureKind::OutOfMemory)
        );
        assert_eq!(
            classify("write /data/db/journal: no space left on device"),
            Some(FailureKind::DiskFull)
        );
    }

    #[test]
    fn ordinary_lines_and_wrappers_name_no_kind() {
        for line in [
            "POST /orders 201 512.300 ms - 54",
            "GET /health took 500ms",
            "I/O error on POST request for \"http://user/user\"",
            "Started Application in 22.73 seconds",
            // A refused login is not a refused connection.
            "authentication was refused for user shop",
            "",
            "\u{1b}[31m\u{0}\u{fffd}",
        ] {
            assert_eq!(classify(line), None, "{line}");
        }
    }

    #[test]
    fn evidence_takes_the_most_specific_kind_of_template_and_example() {
        assert_eq!(
            classify_evidence(
                "Error <NUM>: Got error <NUM> from storage engine",
                "Error 1030: Got error 5 from storage engine"
            ),
            Some(FailureKind::IoError)
        );
        assert_eq!(
            classify_evidence(
                "Timed out after <NUM> ms … Connection refused",
                "Timed out after 10000 ms"
            ),
            Some(FailureKind::Refused)
        );
        assert_eq!(classify_evidence("<*> ok", "fine"), None);
    }

    #[test]
    fn signal_names_are_distinct() {
        let mut names: Vec<&str> = FailureKind::ALL.iter().map(|k| k.signal()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FailureKind::ALL.len());
        for kind in FailureKind::ALL {
            assert_eq!(FailureKind::from_signal(kind.signal()), Some(kind));
        }
        assert_eq!(FailureKind::from_signal("log_errors"), None);
    }
}
