//! Which dependency a service's error lines blame. Clients name the peer they failed to reach
//! as a host (`http://user/…`, `dial tcp user-db:27017`, `carts:80`), so an error line that
//! names another service as a host followed by `:` or `/` points at that service.
//!
//! Used like the trace family's origin attribution: when most of a service's error lines in a
//! window blame one other service, the error is counted where it points, not where it was
//! logged.
//!
//! Invariants: pure; ASCII boundary checks only, so any input is safe.

/// Whether `line` names `service` as a host: not preceded by an alphanumeric, `-` or `_`, and
/// followed by `/` or by `:` and a port number (`user: 'catalogue_user'` in a MySQL line is a
/// database account, not the user service).
#[must_use]
pub fn names_host(line: &str, service: &str) -> bool {
    if service.is_empty() {
        return false;
    }
    let bytes = line.as_bytes();
    let mut from = 0;
    while let Some(offset) = line.get(from..).and_then(|rest| rest.find(service)) {
        let start = from + offset;
        let end = start + service.len();
        let before_ok = start == 0 || {
            let b = bytes[start - 1];
            !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        };
        let after_ok = match bytes.get(end) {
            Some(b'/') => true,
            Some(b':') => bytes.get(end + 1).is_some_and(u8::is_ascii_digit),
            _ => false,
        };
        if before_ok && after_ok {
            return true;
        }
        from = end;
    }
    false
}

/// The service most of `error_lines` blame (at least `min_share` of them), with the number of
/// lines blaming it; `own` is never blamed.
#[must_use]
pub fn blamed<'s>(
    error_lines: &[&str],
    own: &str,
    services: &[&'s str],
    min_share: f64,
) -> Option<(&'s str, usize)> {
    if error_lines.is_empty() {
        return None;
    }
    let mut best: Option<(&'s str, usize)> = None;
    for &service in services.iter().filter(|s| **s != own) {
        let count = error_lines
            .iter()
            .filter(|line| names_host(line, service))
            .count();
        if count > 0 && best.is_none_or(|(_, c)| count > c) {
            best = Some((service, count));
        }
    }
    #[allow(clippy::cast_precision_loss)]
    best.filter(|(_, count)| *count as f64 >= min_share * error_lines.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_recognised_and_words_are_not() {
        assert!(names_host(
            "I/O error on POST request for \"http://user/user\"",
            "user"
        ));
        assert!(names_host(
            "dial tcp user-db:27017: connect: connection refused",
            "user-db"
        ));
        assert!(!names_host("dial tcp user-db:27017: refused", "user"));
        assert!(!names_host("failed to load user profile", "user"));
        assert!(!names_host("superuser:1 failed", "user"));
        assert!(names_host("user:80", "user"));
        assert!(!names_host(
            "[Note] Aborted connection 63 to db: 'socksdb' user: 'catalogue_user' host: '10.44.0.16'",
            "user"
        ));
        assert!(!names_host("user:", "user"));
        assert!(!names_host("", "user"));
    }

    #[test]
    fn the_majority_target_is_blamed() {
        let services = ["orders", "user", "payment"];
        let lines = [
            "ERROR I/O error on POST request for \"http://user/user\": Connection refused",
            "java.net.ConnectException: http://user/ refused",
            "ERROR timeout talking to payment:80",
        ];
        assert_eq!(blamed(&lines, "orders", &services, 0.5), Some(("user", 2)));
        assert_eq!(blamed(&lines, "orders", &services, 0.9), None);
        assert_eq!(blamed(&lines[..1], "user", &services, 0.5), None);
        assert_eq!(blamed(&[], "orders", &services, 0.5), None);
    }
}
