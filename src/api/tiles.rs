//! Public tiles (C2SP `tlog-tiles`): the tree's hashes, never the events (they hold personal
//! data), with no token, so that anyone can check consistency and inclusion with their own
//! client. `GET /tlog/checkpoint` and `GET /tlog/tile/<L>/<N>[.p/<W>]`; entry bundles
//! (`tile/entries/...`) are not served.

use super::{AppError, AppState};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// A full tile never changes: cached for a year, immutable (as C2SP advises). A partial tile
/// does not change either, but is soon replaced by a wider one; a checkpoint moves.
const FULL: &str = "public, max-age=31536000, immutable";
const PARTIAL: &str = "public, max-age=60";
const CHECKPOINT: &str = "no-cache";

/// A tile path this log does not serve.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
enum TilePathError {
    #[error("{0:?} is not a tile path <L>/<N>[.p/<W>]")]
    Malformed(String),
    #[error("entry bundles are not served: the events hold personal data")]
    EntryBundle,
}

/// Parses `<L>/<N>[.p/<W>]`: N in three-digit groups, all but the last prefixed with `x`.
fn parse_tile_path(path: &str) -> Result<(u8, u64, u64), TilePathError> {
    let bad = || TilePathError::Malformed(path.into());
    let (path, width) = match path.split_once(".p/") {
        Some((p, w_text)) => {
            // A width in decimal without leading zeros, 1 to 255.
            let w: u64 = w_text.parse().ok().filter(|w: &u64| (1..256).contains(w) && w.to_string() == w_text).ok_or_else(bad)?;
            (p, w)
        }
        None => (path, 256),
    };
    let mut parts = path.split('/');
    let level = parts.next().ok_or_else(bad)?;
    if level == "entries" || level == "data" {
        return Err(TilePathError::EntryBundle);
    }
    let level: u8 = level.parse().ok().filter(|l: &u8| *l <= 63 && level == l.to_string()).ok_or_else(bad)?;
    let groups: Vec<&str> = parts.collect();
    let mut n: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let last = i + 1 == groups.len();
        let digits = if last { Some(*g) } else { g.strip_prefix('x') };
        let d = digits.filter(|d| d.len() == 3 && d.bytes().all(|b| b.is_ascii_digit())).ok_or_else(bad)?;
        n = n.checked_mul(1000).and_then(|n| n.checked_add(d.parse::<u64>().expect("three digits"))).ok_or_else(bad)?;
    }
    if groups.is_empty() {
        return Err(bad());
    }
    Ok((level, n, width))
}

/// The latest checkpoint, as `/v1/checkpoint` serves it (with its cosignatures).
pub async fn checkpoint(State(s): State<AppState>) -> Result<Response, AppError> {
    let (_, note) = s.ledger.latest_served().await?.ok_or_else(|| AppError::NotFound("no checkpoint has been signed yet".into()))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, CHECKPOINT)], note).into_response())
}

/// A hash tile of the tree of the latest served checkpoint.
pub async fn tile(State(s): State<AppState>, Path(path): Path<String>) -> Result<Response, AppError> {
    let (level, n, width) = parse_tile_path(&path).map_err(|e| AppError::NotFound(e.to_string()))?;
    let (cp, _) = s.ledger.latest_served().await?.ok_or_else(|| AppError::NotFound("no checkpoint has been signed yet".into()))?;
    let data = s.ledger.tile(level, n, width, cp.tree_size).await.map_err(|e| AppError::NotFound(e.to_string()))?;
    let cache = if width == 256 { FULL } else { PARTIAL };
    Ok(([(header::CONTENT_TYPE, "application/octet-stream"), (header::CACHE_CONTROL, cache)], data).into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_tile_path;

    #[test]
    fn tile_paths() {
        assert_eq!(parse_tile_path("0/000"), Ok((0, 0, 256)));
        assert_eq!(parse_tile_path("1/x001/x234/067.p/8"), Ok((1, 1_234_067, 8)));
        assert_eq!(parse_tile_path("0/005.p/255"), Ok((0, 5, 255)));
        for bad in ["0/5", "0/x005", "00/000", "0/000.p/256", "0/000.p/0", "0/000.p/07", "64/000", "0", "0/001/002", "entries/000"] {
            assert!(parse_tile_path(bad).is_err(), "{bad}");
        }
    }
}
