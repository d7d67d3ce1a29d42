//! Chooses the protocol from the request headers, as the remote-write 2.0 spec and
//! Prometheus's `write_handler.go` do.
//!
//! - Content-Type `application/x-protobuf` with no `proto` parameter (or no Content-Type
//!   at all) is 1.0; `proto=prometheus.WriteRequest` is 1.0;
//!   `proto=io.prometheus.write.v2.Request` is 2.0; anything else is 415.
//! - Content-Encoding `snappy` or absent (1.0 senders that omit it still send snappy) is
//!   accepted; anything else is 415.

use super::batch::Protocol;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaTypeError {
    #[error("expected application/x-protobuf as the media type, got content-type {0:?}")]
    NotProtobuf(String),
    #[error(
        "content-type {0:?}: unknown proto {1:?}; accepted: prometheus.WriteRequest, io.prometheus.write.v2.Request"
    )]
    UnknownProto(String, String),
    #[error("content-type {0:?}: parameter {1:?} is not a key=value pair")]
    BadParameter(String, String),
    #[error("content-encoding {0:?} is not accepted; only snappy is")]
    Encoding(String),
}

const PROTOBUF: &str = "application/x-protobuf";

/// The protocol a request uses, from its Content-Type and Content-Encoding headers.
pub fn negotiate(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<Protocol, MediaTypeError> {
    let protocol = match content_type.map(str::trim) {
        None | Some("") => Protocol::V1,
        Some(content_type) => parse_content_type(content_type)?,
    };
    match content_encoding.map(str::trim) {
        None | Some("") => Ok(protocol),
        Some(encoding) if encoding.eq_ignore_ascii_case("snappy") => Ok(protocol),
        Some(other) => Err(MediaTypeError::Encoding(other.to_owned())),
    }
}

fn parse_content_type(content_type: &str) -> Result<Protocol, MediaTypeError> {
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case(PROTOBUF) {
        return Err(MediaTypeError::NotProtobuf(content_type.to_owned()));
    }
    for parameter in parts {
        let Some((key, value)) = parameter.split_once('=') else {
            return Err(MediaTypeError::BadParameter(
                content_type.to_owned(),
                parameter.trim().to_owned(),
            ));
        };
        if key.trim().eq_ignore_ascii_case("proto") {
            return match value.trim().trim_matches('"') {
                "prometheus.WriteRequest" => Ok(Protocol::V1),
                "io.prometheus.write.v2.Request" => Ok(Protocol::V2),
                other => Err(MediaTypeError::UnknownProto(
                    content_type.to_owned(),
                    other.to_owned(),
                )),
            };
        }
    }
    Ok(Protocol::V1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request's `Content-Type` and `Content-Encoding`, and the protocol they select or
    /// words of the error they cause.
    struct Case {
        content_type: Option<&'static str>,
        encoding: Option<&'static str>,
        expected: Result<Protocol, &'static str>,
    }

    #[test]
    fn follows_the_spec_table() {
        let v2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request";
        let cases = [
            Case {
                content_type: None,
                encoding: None,
                expected: Ok(Protocol::V1),
            },
            Case {
                content_type: Some("application/x-protobuf"),
                encoding: Some("snappy"),
                expected: Ok(Protocol::V1),
            },
            Case {
                content_type: Some("application/x-protobuf;proto=prometheus.WriteRequest"),
                encoding: Some("snappy"),
                expected: Ok(Protocol::V1),
            },
            Case {
                content_type: Some(v2),
                encoding: Some("snappy"),
                expected: Ok(Protocol::V2),
            },
            Case {
                content_type: Some("application/x-protobuf; proto=io.prometheus.write.v2.Request"),
                encoding: None,
                expected: Ok(Protocol::V2),
            },
            Case {
                content_type: Some("application/json"),
                encoding: None,
                expected: Err("media type"),
            },
            Case {
                content_type: Some("application/x-protobuf;proto=io.prometheus.write.v3.Request"),
                encoding: None,
                expected: Err("unknown proto"),
            },
            Case {
                content_type: Some("application/x-protobuf;charset"),
                encoding: None,
                expected: Err("key=value"),
            },
            Case {
                content_type: Some(v2),
                encoding: Some("gzip"),
                expected: Err("only snappy"),
            },
            Case {
                content_type: Some(v2),
                encoding: Some("zstd"),
                expected: Err("only snappy"),
            },
        ];
        for Case {
            content_type,
            encoding,
            expected,
        } in cases
        {
            let got = negotiate(content_type, encoding);
            match expected {
                Ok(protocol) => assert_eq!(got, Ok(protocol), "{content_type:?}"),
                Err(words) => {
                    let message = got.unwrap_err().to_string();
                    assert!(message.contains(words), "{message}");
                }
            }
        }
    }
}
