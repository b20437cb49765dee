//! The bits of HTTP/1.1 the server needs, parsed by hand: the request head, `Range`, and
//! dates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A parsed request head.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The request target, percent-decoded, without query.
    pub path: String,
    /// `HTTP/1.1` or `HTTP/1.0` minor version.
    pub minor: u8,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// The `Range` header, if any.
    pub range: Option<String>,
}

/// Why a request head was refused: (status, reason).
pub type Refusal = (u16, &'static str);

/// The length of the head in `buf` (through the blank line), if it is complete.
pub fn head_len(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Parses a complete request head (request line and header fields).
pub fn parse(head: &[u8]) -> Result<Request, Refusal> {
    let text = std::str::from_utf8(head).map_err(|_| (400, "head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let line = lines.next().ok_or((400, "no request line"))?;
    let mut parts = line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if !m.is_empty() && !t.is_empty() => (m, t, v),
        _ => return Err((400, "malformed request line")),
    };
    let minor = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        _ => return Err((505, "HTTP version not supported")),
    };
    let mut keep_alive = minor == 1;
    let mut range = None;
    let mut host = false;
    for field in lines.filter(|l| !l.is_empty()) {
        let (name, value) = field.split_once(':').ok_or((400, "malformed header field"))?;
        if name.is_empty() || name.ends_with(' ') || name.ends_with('\t') {
            return Err((400, "malformed header field"));
        }
        let value = value.trim_matches([' ', '\t']);
        if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("range") {
            range = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("host") {
            host = true;
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || (name.eq_ignore_ascii_case("content-length") && value != "0")
        {
            // A GET/HEAD server with no use for a body: refuse one rather than misframe.
            return Err((400, "request bodies are not supported"));
        }
    }
    if minor == 1 && !host {
        return Err((400, "HTTP/1.1 request without Host"));
    }
    let target = target.split(['?', '#']).next().unwrap_or("");
    if !target.starts_with('/') {
        return Err((400, "target is not an absolute path"));
    }
    let path = percent_decode(target).ok_or((400, "bad percent-encoding"))?;
    Ok(Request { method: method.to_string(), path, minor, keep_alive, range })
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    let s = String::from_utf8(out).ok()?;
    (!s.contains('\0')).then_some(s)
}

/// What a `Range` header asks of a body of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No usable range: send it all (200). Also for multiple ranges, which this server does
    /// not combine (RFC 9110 lets a server ignore Range).
    Full,
    /// Bytes `start..end` (206).
    Partial(u64, u64),
    /// 416.
    Unsatisfiable,
}

/// Interprets a `Range` header value against a body of `size` bytes (RFC 9110 14.1.2).
pub fn range(value: &str, size: u64) -> RangeAnswer {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Full;
    };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAnswer::Full;
    };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    match (a.trim(), b.trim()) {
        ("", n) => match num(n) {
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(_) if size == 0 => RangeAnswer::Unsatisfiable,
            Some(n) => RangeAnswer::Partial(size - n.min(size), size),
            None => RangeAnswer::Full,
        },
        (s, "") => match num(s) {
            Some(s) if s < size => RangeAnswer::Partial(s, size),
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Full,
        },
        (s, e) => match (num(s), num(e)) {
            (Some(s), Some(e)) if s <= e => {
                if s < size {
                    RangeAnswer::Partial(s, e.saturating_add(1).min(size))
                } else {
                    RangeAnswer::Unsatisfiable
                }
            }
            _ => RangeAnswer::Full,
        },
    }
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
    let (days, rem) = (secs / 86400, secs % 86400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mon = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mon <= 2);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MO: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{}, {d:02} {} {y} {h:02}:{m:02}:{s:02} GMT",
        WD[(days % 7) as usize],
        MO[(mon - 1) as usize]
    )
}

/// The reason phrase of the statuses this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// A Content-Type from the file name's extension.
pub fn content_type(path: &std::path::Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads() {
        let r =
            parse(b"GET /a%20b.txt?x=1 HTTP/1.1\r\nHost: h\r\nRange: bytes=0-9\r\n\r\n").unwrap();
        assert_eq!(
            r,
            Request {
                method: "GET".into(),
                path: "/a b.txt".into(),
                minor: 1,
                keep_alive: true,
                range: Some("bytes=0-9".into()),
            }
        );
        let r = parse(b"HEAD / HTTP/1.1\r\nhost: h\r\nConnection: close\r\n\r\n").unwrap();
        assert!(!r.keep_alive);
        let r = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(!r.keep_alive);
        let r = parse(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap();
        assert!(r.keep_alive);
        assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n").unwrap_err().0, 400);
        assert_eq!(parse(b"GET / HTTP/2.0\r\nHost: h\r\n\r\n").unwrap_err().0, 505);
        assert_eq!(parse(b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n").unwrap_err().0, 400);
        assert_eq!(parse(b"GET x HTTP/1.1\r\nHost: h\r\n\r\n").unwrap_err().0, 400);
        assert_eq!(parse(b"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n").unwrap_err().0, 400);
        assert_eq!(parse(b"GET /%00 HTTP/1.1\r\nHost: h\r\n\r\n").unwrap_err().0, 400);
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost : h\r\n\r\n").unwrap_err().0, 400);
        let chunked = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(chunked).unwrap_err().0, 400);
        assert_eq!(head_len(b"GET / HTTP/1.1\r\nHost: h\r\n\r\nNEXT"), Some(27));
        assert_eq!(head_len(b"GET / HTTP/1.1\r\nHost: h\r\n"), None);
    }

    #[test]
    fn ranges() {
        use RangeAnswer::*;
        assert_eq!(range("bytes=0-9", 100), Partial(0, 10));
        assert_eq!(range("bytes=90-200", 100), Partial(90, 100));
        assert_eq!(range("bytes=99-", 100), Partial(99, 100));
        assert_eq!(range("bytes=-10", 100), Partial(90, 100));
        assert_eq!(range("bytes=-1000", 100), Partial(0, 100));
        assert_eq!(range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(range("bytes=100-200", 100), Unsatisfiable);
        assert_eq!(range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(range("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(range("bytes=-5", 0), Unsatisfiable);
        assert_eq!(range("bytes=5-1", 100), Full);
        assert_eq!(range("bytes=0-1,5-6", 100), Full);
        assert_eq!(range("items=0-1", 100), Full);
        assert_eq!(range("bytes=a-b", 100), Full);
        assert_eq!(range("bytes=0-18446744073709551615", 100), Partial(0, 100));
    }

    #[test]
    fn dates() {
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // leap day 2000
        assert_eq!(http_date(t), "Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
