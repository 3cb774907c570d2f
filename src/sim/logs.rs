//! Log lines in each service's own style: Spring Boot, Go kit, Express (Node.js), MongoDB 3.4,
//! MySQL 5.7, Redis, RabbitMQ and Envoy access logs. Pure formatting: time and values in, text out.

use super::topology::LogStyle;
use crate::model::Timestamp;

/// Why a call to a dependency failed, as the caller's client library reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFailure {
    /// TCP connection refused (pod down).
    Refused,
    /// Connect or read timed out (partition).
    Timeout,
    /// The peer closed the connection mid-request (HTTP abort).
    Reset,
    /// The dependency answered with this 5xx status.
    Status(u16),
    /// A database answered with an I/O error.
    DbIo,
    /// No healthy endpoint (Envoy `UH`).
    NoHealthyUpstream,
}

fn spring_time(t: Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.3f")
}

fn spring(t: Timestamp, level: &str, thread: &str, logger: &str, message: &str) -> String {
    format!(
        "{} {:>5} 1 --- [{:>15}] {:<40} : {}",
        spring_time(t),
        level,
        thread,
        logger,
        message
    )
}

fn gokit(t: Timestamp, fields: &str) -> String {
    format!(
        "ts={} caller=logging.go:{} {}",
        t.format("%Y-%m-%dT%H:%M:%S%.9fZ"),
        22 + fields.len() % 60,
        fields
    )
}

fn mongo(t: Timestamp, severity: char, component: &str, context: &str, message: &str) -> String {
    format!(
        "{} {} {:<8} [{}] {}",
        t.format("%Y-%m-%dT%H:%M:%S%.3f+0000"),
        severity,
        component,
        context,
        message
    )
}

fn java_exception_for(failure: CallFailure, dependency: &str, port: u16) -> String {
    match failure {
        CallFailure::Refused => format!("org.springframework.web.client.ResourceAccessException: I/O error on POST request for \"http://{dependency}/{dependency}\": Connection refused (Connection refused); nested exception is java.net.ConnectException: Connection refused (Connection refused)"),
        CallFailure::Timeout => format!("org.springframework.web.client.ResourceAccessException: I/O error on POST request for \"http://{dependency}:{port}/{dependency}\": connect timed out; nested exception is java.net.SocketTimeoutException: connect timed out"),
        CallFailure::Reset => "org.springframework.web.client.ResourceAccessException: I/O error on POST request: Unexpected end of file from server; nested exception is java.net.SocketException: Unexpected end of file from server".to_owned(),
        CallFailure::Status(code) => format!("org.springframework.web.client.HttpServerErrorException: {code} {}", reason(code)),
        CallFailure::NoHealthyUpstream => "org.springframework.web.client.HttpServerErrorException: 503 Service Unavailable: [no healthy upstream]".to_owned(),
        CallFailure::DbIo => format!("org.springframework.data.mongodb.UncategorizedMongoDbException: Command failed with error 8 (UnknownError): 'WiredTigerRecordStore::insertRecord: 5: Input/output error' on server {dependency}:{port}"),
    }
}

/// HTTP reason phrase.
#[must_use]
pub fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

#[allow(clippy::too_many_arguments)]
/// The line a service writes when it served a request, if its framework logs requests at all.
#[must_use]
pub fn request_served(
    style: LogStyle,
    t: Timestamp,
    method: &str,
    path: &str,
    status: u16,
    millis: f64,
    bytes: u64,
    operation: &str,
) -> Option<String> {
    match style {
        LogStyle::NodeJs => Some(format!("{method} {path} {status} {millis:.3} ms - {bytes}")),
        LogStyle::GoKit => {
            let err = if status >= 500 {
                "\"internal error\""
            } else {
                "null"
            };
            Some(gokit(
                t,
                &format!(
                    "method={operation} result={} err={err} took={:.6}ms",
                    bytes / 64,
                    millis
                ),
            ))
        }
        LogStyle::SpringBoot if status >= 500 => None,
        _ => None,
    }
}

/// Lines a service writes when a dependency call failed (possibly several: a Java stack trace
/// arrives line by line in Loki).
#[must_use]
pub fn dependency_failed(
    style: LogStyle,
    t: Timestamp,
    service: &str,
    dependency: &str,
    port: u16,
    failure: CallFailure,
) -> Vec<String> {
    match style {
        LogStyle::SpringBoot => {
            let exception = if matches!(
                failure,
                CallFailure::DbIo | CallFailure::Refused | CallFailure::Timeout
            ) && dependency.ends_with("-db")
            {
                match failure {
                    CallFailure::DbIo => format!(
                        "org.springframework.dao.DataAccessResourceFailureException: Command failed with error 8 (UnknownError): 'Input/output error' on server {dependency}:{port}; nested exception is com.mongodb.MongoCommandException"
                    ),
                    CallFailure::Refused => format!(
                        "org.springframework.dao.DataAccessResourceFailureException: Timed out after 10000 ms while waiting to connect. Client view of cluster state is {{type=UNKNOWN, servers=[{{address={dependency}:{port}, type=UNKNOWN, state=CONNECTING, exception={{com.mongodb.MongoSocketOpenException: Exception opening socket}}, caused by {{java.net.ConnectException: Connection refused (Connection refused)}}}}]"
                    ),
                    _ => format!(
                        "org.springframework.dao.DataAccessResourceFailureException: Timed out after 10000 ms while waiting for a server that matches ReadPreferenceServerSelector{{readPreference=primary}}. Client view of cluster state is {{type=UNKNOWN, servers=[{{address={dependency}:{port}, type=UNKNOWN, state=CONNECTING, exception={{com.mongodb.MongoSocketReadTimeoutException: Timeout while receiving message}}}}]"
                    ),
                }
            } else if dependency == "rabbitmq" {
                match failure {
                    CallFailure::Refused => "org.springframework.amqp.AmqpConnectException: java.net.ConnectException: Connection refused (Connection refused)".to_owned(),
                    _ => "org.springframework.amqp.AmqpConnectException: java.net.ConnectException: Connection timed out (Connection timed out)".to_owned(),
                }
            } else {
                java_exception_for(failure, dependency, port)
            };
            let package = match service {
                "carts" => "works.weave.socks.cart",
                "orders" => "works.weave.socks.orders",
                "shipping" => "works.weave.socks.shipping",
                _ => "works.weave.socks.queuemaster",
            };
            vec![
                spring(t, "ERROR", "nio-80-exec-4", "o.a.c.c.C.[.[.[/].[dispatcherServlet]", &format!("Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception [Request processing failed; nested exception is {exception}] with root cause")),
                format!("{exception}"),
                format!("\tat {package}.controllers.{}Controller.handle(Unknown Source) ~[classes!/:na]", capitalise(service)),
                "\tat org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:978) ~[spring-webmvc-4.3.4.RELEASE.jar!/:4.3.4.RELEASE]".to_owned(),
            ]
        }
        LogStyle::GoKit => {
            let err = match failure {
                CallFailure::Refused => {
                    format!("dial tcp {dependency}:{port}: connect: connection refused")
                }
                CallFailure::Timeout => format!("dial tcp {dependency}:{port}: i/o timeout"),
                CallFailure::DbIo => "Error 1030: Got error 5 from storage engine".to_owned(),
                CallFailure::Reset => "read: connection reset by peer".to_owned(),
                CallFailure::Status(code) => format!("unexpected status {code}"),
                CallFailure::NoHealthyUpstream => "no healthy upstream".to_owned(),
            };
            let err = if dependency.ends_with("-db") && !matches!(failure, CallFailure::DbIo) {
                format!("Database connection error: {err}")
            } else {
                err
            };
            vec![gokit(t, &format!("method=Get err=\"{err}\""))]
        }
        LogStyle::NodeJs => {
            let err = match (dependency, failure) {
                ("session-db", CallFailure::Timeout) => format!(
                    "Error: Redis connection to {dependency}:{port} failed - connect ETIMEDOUT 10.96.41.12:{port}"
                ),
                ("session-db", _) => format!(
                    "Error: Redis connection to {dependency}:{port} failed - connect ECONNREFUSED 10.96.41.12:{port}"
                ),
                (_, CallFailure::Refused) => format!(
                    "Error: connect ECONNREFUSED 10.96.{}.{}:80",
                    dependency.len(),
                    port % 250
                ),
                (_, CallFailure::Timeout) => "Error: ESOCKETTIMEDOUT".to_owned(),
                (_, CallFailure::Reset) => "Error: socket hang up".to_owned(),
                (_, CallFailure::Status(code)) => format!(
                    "Error: Request failed with status code {code} from http://{dependency}"
                ),
                (_, CallFailure::NoHealthyUpstream) => format!(
                    "Error: Request failed with status code 503 from http://{dependency}: no healthy upstream"
                ),
                (_, CallFailure::DbIo) => "Error: database error".to_owned(),
            };
            vec![err, "    at ClientRequest.<anonymous> (/usr/src/app/node_modules/request/request.js:848:19)".to_owned()]
        }
        _ => Vec::new(),
    }
}

fn capitalise(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map_or_else(String::new, |first| {
            first.to_ascii_uppercase().to_string() + chars.as_str()
        })
        .replace('-', "")
}

/// Lines of a container that just started (one per call; the caller spreads them over time).
#[must_use]
pub fn startup(style: LogStyle, t: Timestamp, service: &str) -> Vec<String> {
    match style {
        LogStyle::SpringBoot => vec![
            spring(
                t,
                "INFO",
                "           main",
                &format!("works.weave.socks.{}.Application", service.replace('-', "")),
                "Starting Application on host with PID 1 (/usr/src/app/app.jar started by myuser in /usr/src/app)",
            ),
            spring(
                t,
                "INFO",
                "           main",
                "s.b.c.e.t.TomcatEmbeddedServletContainer",
                "Tomcat initialized with port(s): 80 (http)",
            ),
            spring(
                t,
                "INFO",
                "           main",
                "o.s.b.a.e.mvc.EndpointHandlerMapping",
                "Mapped \"{[/health || /health.json],methods=[GET],produces=[application/json]}\"",
            ),
            spring(
                t,
                "INFO",
                "           main",
                "s.b.c.e.t.TomcatEmbeddedServletContainer",
                "Tomcat started on port(s): 80 (http)",
            ),
            spring(
                t,
                "INFO",
                "           main",
                &format!("works.weave.socks.{}.Application", service.replace('-', "")),
                "Started Application in 22.73 seconds (JVM running for 24.41)",
            ),
        ],
        LogStyle::GoKit => vec![
            gokit(t, "transport=HTTP port=80"),
            gokit(t, "msg=\"Connected to database\""),
        ],
        LogStyle::NodeJs => vec![
            "Using the redis based session manager".to_owned(),
            "App now running in production mode on port 8079".to_owned(),
        ],
        LogStyle::MongoDb => vec![
            mongo(
                t,
                'I',
                "CONTROL",
                "initandlisten",
                "MongoDB starting : pid=1 port=27017 dbpath=/data/db 64-bit host=mongo",
            ),
            mongo(
                t,
                'I',
                "STORAGE",
                "initandlisten",
                "Detected data files in /data/db created by the 'wiredTiger' storage engine, so setting the active storage engine to 'wiredTiger'.",
            ),
            mongo(
                t,
                'I',
                "NETWORK",
                "thread1",
                "waiting for connections on port 27017",
            ),
        ],
        LogStyle::MySql => vec![
            format!(
                "{} 0 [Note] mysqld (mysqld 5.7.18) starting as process 1 ...",
                t.format("%Y-%m-%dT%H:%M:%S%.6fZ")
            ),
            format!(
                "{} 0 [Note] InnoDB: Buffer pool(s) load completed",
                t.format("%Y-%m-%dT%H:%M:%S%.6fZ")
            ),
            format!(
                "{} 0 [Note] mysqld: ready for connections.",
                t.format("%Y-%m-%dT%H:%M:%S%.6fZ")
            ),
        ],
        LogStyle::Redis => vec![
            format!(
                "1:M {} * Redis version=3.2.12, bits=64, pid=1, just started",
                t.format("%d %b %Y %H:%M:%S%.3f")
            ),
            format!(
                "1:M {} * Ready to accept connections",
                t.format("%d %b %Y %H:%M:%S%.3f")
            ),
        ],
        LogStyle::RabbitMq => vec![
            format!(
                "{} [info] <0.33.0> Application rabbit started on node rabbit@rabbitmq",
                t.format("%Y-%m-%d %H:%M:%S%.3f")
            ),
            format!(
                "{} [info] <0.5.0> Server startup complete; 0 plugins started.",
                t.format("%Y-%m-%d %H:%M:%S%.3f")
            ),
        ],
    }
}

/// A database or broker line about one served operation (only slow ones are logged by MongoDB).
#[must_use]
pub fn db_operation(
    style: LogStyle,
    t: Timestamp,
    collection: &str,
    millis: f64,
    connection: u32,
) -> Option<String> {
    match style {
        LogStyle::MongoDb if millis > 100.0 => Some(mongo(
            t,
            'I',
            "COMMAND",
            &format!("conn{connection}"),
            &format!(
                "command data.{collection} command: find {{ find: \"{collection}\", filter: {{ customerId: \"57a98d98e4b00679b4a830b2\" }} }} planSummary: COLLSCAN keysExamined:0 docsExamined:212 cursorExhausted:1 numYields:1 nreturned:1 reslen:512 locks:{{ Global: {{ acquireCount: {{ r: 4 }} }} }} protocol:op_query {}ms",
                millis.round()
            ),
        )),
        _ => None,
    }
}

/// A database's own complaint about a failing disk.
#[must_use]
pub fn db_io_error(style: LogStyle, t: Timestamp, counter: u64) -> Vec<String> {
    match style {
        LogStyle::MongoDb => vec![mongo(
            t,
            'E',
            "STORAGE",
            &format!("conn{}", 10 + counter % 40),
            &format!(
                "WiredTiger error (5) [{}:{}][1:0x7f3a{:08x}], file:collection-{}--{}.wt, WT_CURSOR.insert: collection-{}--{}.wt: write error: failed to write 4096 bytes at offset {}: Input/output error",
                t.as_secs(),
                (t.as_nanos() / 1000) % 1_000_000,
                counter * 7919 % 0xffff_ffff,
                7 + counter % 3,
                3_948_172_554_u64 + counter % 5,
                7 + counter % 3,
                3_948_172_554_u64 + counter % 5,
                4096 * (counter % 512)
            ),
        )],
        LogStyle::MySql => vec![
            format!(
                "{} {} [ERROR] InnoDB: Operating system error number 5 in a file operation.",
                t.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
                12 + counter % 30
            ),
            format!(
                "{} {} [ERROR] InnoDB: Error number 5 means 'Input/output error'",
                t.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
                12 + counter % 30
            ),
        ],
        _ => Vec::new(),
    }
}

/// A database's fatal crash line before the container restarts.
#[must_use]
pub fn db_crash(style: LogStyle, t: Timestamp) -> Vec<String> {
    match style {
        LogStyle::MongoDb => vec![
            mongo(
                t,
                'E',
                "STORAGE",
                "WTCheckpointThread",
                "WiredTiger error (5) [1:0x7f3a1c7fe700], WT_SESSION.checkpoint: WiredTigerLAS.wt: fatal read error: Input/output error",
            ),
            mongo(
                t,
                'F',
                "-",
                "WTCheckpointThread",
                "Fatal Assertion 28559 at src/mongo/db/storage/wiredtiger/wiredtiger_util.cpp 64",
            ),
            mongo(
                t,
                'F',
                "-",
                "WTCheckpointThread",
                "\n\n***aborting after fassert() failure\n\n",
            ),
        ],
        LogStyle::MySql => vec![format!(
            "{} 0 [ERROR] InnoDB: Cannot continue operation.",
            t.format("%Y-%m-%dT%H:%M:%S%.6fZ")
        )],
        _ => Vec::new(),
    }
}

/// Background chatter a quiet service writes now and then.
#[must_use]
pub fn background(style: LogStyle, t: Timestamp, counter: u64) -> Option<String> {
    match style {
        LogStyle::MongoDb => Some(if counter.is_multiple_of(2) {
            mongo(
                t,
                'I',
                "NETWORK",
                "thread1",
                &format!(
                    "connection accepted from 10.44.0.{}:{} #{} ({} connections now open)",
                    3 + counter % 20,
                    40_000 + counter % 20_000,
                    100 + counter,
                    3 + counter % 4
                ),
            )
        } else {
            mongo(
                t,
                'I',
                "NETWORK",
                &format!("conn{}", 100 + counter),
                &format!(
                    "received client metadata from 10.44.0.{}:{} conn{}: {{ driver: {{ name: \"mongo-java-driver\", version: \"3.2.2\" }}, os: {{ type: \"Linux\", architecture: \"amd64\" }} }}",
                    3 + counter % 20,
                    40_000 + counter % 20_000,
                    100 + counter
                ),
            )
        }),
        LogStyle::Redis => Some(format!(
            "1:M {} * 10 changes in 300 seconds. Saving...",
            t.format("%d %b %Y %H:%M:%S%.3f")
        )),
        LogStyle::RabbitMq => Some(format!(
            "{} [info] <0.{}.0> accepting AMQP connection <0.{}.0> (10.44.0.{}:{} -> 10.44.0.9:5672)",
            t.format("%Y-%m-%d %H:%M:%S%.3f"),
            600 + counter % 400,
            600 + counter % 400,
            4 + counter % 10,
            50_000 + counter % 10_000
        )),
        LogStyle::MySql => Some(format!(
            "{} {} [Note] Aborted connection {} to db: 'socksdb' user: 'catalogue_user' host: '10.44.0.{}' (Got an error reading communication packets)",
            t.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
            20 + counter % 50,
            20 + counter % 50,
            3 + counter % 20
        )),
        LogStyle::SpringBoot => Some(spring(
            t,
            "INFO",
            "pool-1-thread-1",
            "o.s.b.a.health.HealthEndpoint",
            "Health check OK",
        )),
        LogStyle::GoKit => Some(gokit(t, "method=Health result=2 err=null took=1.187µs")),
        LogStyle::NodeJs => Some("GET /health 200 0.712 ms - 15".to_owned()),
    }
}

/// Lines of a JVM under memory pressure.
#[must_use]
pub fn gc_pause(t: Timestamp, millis: f64, heap_mib: f64) -> String {
    format!(
        "[GC (Allocation Failure) [PSYoungGen: {:.0}K->{:.0}K({:.0}K)] {:.0}K->{:.0}K({:.0}K), {:.7} secs] [Times: user=0.21 sys=0.03, real={:.2} secs]  {}",
        heap_mib * 300.0,
        heap_mib * 40.0,
        heap_mib * 340.0,
        heap_mib * 1024.0,
        heap_mib * 900.0,
        heap_mib * 1100.0,
        millis / 1000.0,
        millis / 1000.0,
        t.format("%H:%M:%S%.3f")
    )
}

/// queue-master's lines.
#[must_use]
pub fn queue_master(t: Timestamp, event: QueueEvent<'_>) -> String {
    match event {
        QueueEvent::Received(order) => spring(
            t,
            "INFO",
            "cTaskExecutor-1",
            "w.w.s.q.ShippingTaskHandler",
            &format!("Received shipment task: {order}"),
        ),
        QueueEvent::ConsumerFailed => spring(
            t,
            "WARN",
            "cTaskExecutor-1",
            "o.s.a.r.l.SimpleMessageListenerContainer",
            "Consumer raised exception, processing can restart if the connection factory supports it. Exception summary: org.springframework.amqp.AmqpConnectException: java.net.ConnectException: Connection timed out (Connection timed out)",
        ),
        QueueEvent::Restarting => spring(
            t,
            "INFO",
            "cTaskExecutor-1",
            "o.s.a.r.l.SimpleMessageListenerContainer",
            "Restarting Consumer: tags=[{}], channel=null, acknowledgeMode=AUTO local queue size=0",
        ),
    }
}

/// What queue-master does.
#[derive(Debug, Clone, Copy)]
pub enum QueueEvent<'a> {
    /// A shipment message arrived.
    Received(&'a str),
    /// The consumer lost its connection.
    ConsumerFailed,
    /// It tries again.
    Restarting,
}

/// RabbitMQ's lines about a lost client.
#[must_use]
pub fn rabbitmq_missed_heartbeat(t: Timestamp, counter: u64) -> String {
    format!(
        "{} [error] <0.{}.0> closing AMQP connection <0.{}.0> (10.44.0.12:{} -> 10.44.0.9:5672):\nmissed heartbeats from client, timeout: 60s",
        t.format("%Y-%m-%d %H:%M:%S%.3f"),
        700 + counter % 300,
        700 + counter % 300,
        51_000 + counter % 1000
    )
}

/// One Envoy access-log line (Istio's default text format).
#[allow(clippy::too_many_arguments)]
#[must_use]
pub fn envoy_access(
    t: Timestamp,
    method: &str,
    path: &str,
    status: u16,
    flags: &str,
    details: &str,
    bytes_received: u64,
    bytes_sent: u64,
    millis: f64,
    upstream_host: &str,
    cluster: &str,
    request_id: &str,
    authority: &str,
) -> String {
    format!(
        "[{}] \"{method} {path} HTTP/1.1\" {status} {flags} {details} \"-\" {bytes_received} {bytes_sent} {:.0} {} \"-\" \"locust/2.15\" \"{request_id}\" \"{authority}\" \"{upstream_host}\" {cluster} 10.44.0.5:45678 10.96.0.7:80 10.44.0.3:34567 - default",
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        millis.round(),
        if status == 0 || flags != "-" {
            "-".to_owned()
        } else {
            format!("{:.0}", (millis * 0.9).round())
        },
    )
}

/// Application style of a service, for callers that only need to know about JVMs.
#[must_use]
pub const fn is_jvm(style: LogStyle) -> bool {
    matches!(style, LogStyle::SpringBoot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_look_like_their_frameworks() {
        let t = Timestamp::from_secs(1_735_689_600);
        let lines = dependency_failed(
            LogStyle::SpringBoot,
            t,
            "carts",
            "carts-db",
            27017,
            CallFailure::DbIo,
        );
        assert!(
            lines[0].starts_with("2025-01-01 00:00:00.000 ERROR 1 --- ["),
            "{}",
            lines[0]
        );
        assert!(lines[1].contains("Input/output error"));
        let go = request_served(
            LogStyle::GoKit,
            t,
            "GET",
            "/catalogue",
            200,
            2.5,
            640,
            "List",
        )
        .expect("go kit logs requests");
        assert!(
            go.starts_with("ts=2025-01-01T00:00:00.000000000Z caller=logging.go:"),
            "{go}"
        );
        assert!(go.contains("method=List") && go.contains("took=2.500000ms"));
        let node = request_served(
            LogStyle::NodeJs,
            t,
            "GET",
            "/catalogue",
            200,
            12.345,
            1234,
            "",
        )
        .expect("express logs");
        assert_eq!(node, "GET /catalogue 200 12.345 ms - 1234");
        let envoy = envoy_access(
            t,
            "POST",
            "/shipping",
            503,
            "UF",
            "upstream_reset_before_response_started{connection_failure}",
            120,
            91,
            10_003.0,
            "-",
            "outbound|80||shipping.sock-shop.svc.cluster.local",
            "id",
            "shipping",
        );
        assert!(
            envoy.starts_with("[2025-01-01T00:00:00.000Z] \"POST /shipping HTTP/1.1\" 503 UF "),
            "{envoy}"
        );
        assert!(db_io_error(LogStyle::MongoDb, t, 3)[0].contains("Input/output error"));
    }
}
