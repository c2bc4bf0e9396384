//! Reading an answer's body, never more of it than `contract::MAX_ANSWER_BYTES`.

use super::contract::MAX_ANSWER_BYTES;

/// Why a body was not read whole.
#[derive(Debug)]
pub(crate) enum Unread {
    /// The connection failed while reading.
    Transport(reqwest::Error),
    /// The body goes on past the cap (by its `Content-Length`, or as it came).
    TooLarge,
}

impl Unread {
    /// What went wrong, in words for an error's detail.
    pub(crate) fn describe(&self) -> String {
        match self {
            Unread::Transport(e) => super::client::describe_transport(e),
            Unread::TooLarge => too_large(),
        }
    }
}

/// The detail of an answer that went on past the cap.
pub(crate) fn too_large() -> String {
    format!(
        "it goes on past {} MiB, more than any answer of the platform; check that the OCPlatform's URL points at the Live Platform",
        MAX_ANSWER_BYTES / (1024 * 1024)
    )
}

/// The whole body of `response`, read a chunk at a time and given up on once it
/// passes the cap.
pub(crate) async fn read(mut response: reqwest::Response) -> Result<Vec<u8>, Unread> {
    if response
        .content_length()
        .is_some_and(|length| length > MAX_ANSWER_BYTES as u64)
    {
        return Err(Unread::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Unread::Transport)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(Unread::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
