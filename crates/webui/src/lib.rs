//! The web console: a single-page application in plain HTML, CSS and JavaScript (no build
//! step, no Node needed to build or run), embedded in the binary with `include_bytes!`.
//!
//! The `api` crate serves [`asset`] at `/` and `/ui/...` under a Content-Security-Policy
//! that forbids inline script: every script is a file here, and every value from events
//! is rendered with `textContent`, never as HTML.

#![warn(missing_docs)]

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// The bytes.
    pub bytes: &'static [u8],
    /// Its `Content-Type`.
    pub content_type: &'static str,
}

macro_rules! assets {
    ($($name:literal => $type:literal),* $(,)?) => {
        /// Every embedded file by path below `/ui/`.
        pub const ASSETS: &[(&str, Asset)] = &[$(
            ($name, Asset { bytes: include_bytes!(concat!("../assets/", $name)), content_type: $type }),
        )*];
    };
}

assets! {
    "index.html" => "text/html; charset=utf-8",
    "app.css" => "text/css; charset=utf-8",
    "app.js" => "text/javascript; charset=utf-8",
    "i18n.js" => "text/javascript; charset=utf-8",
    "logo.svg" => "image/svg+xml",
}

/// The file at `path` (relative to `/ui/`, e.g. `app.js`), if embedded.
pub fn asset(path: &str) -> Option<Asset> {
    ASSETS
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, asset)| *asset)
}

/// The page every console route (`/`, `/ui/`, `/ui/search`, ...) answers with; the
/// script routes on the client.
pub fn index() -> Asset {
    asset("index.html").expect("index.html is embedded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_load_no_inline_script() {
        let html = std::str::from_utf8(index().bytes).unwrap();
        // CSP `script-src 'self'` would block inline script anyway; keep the page clean of
        // it so nothing breaks under the policy.
        for (start, _) in html.match_indices("<script") {
            let tag_end = html[start..].find('>').unwrap() + start;
            assert!(
                html[start..tag_end].contains("src="),
                "inline script in index.html"
            );
        }
        assert!(!html.contains(" on") || !html.contains("onclick="));
        for (name, asset) in ASSETS {
            assert!(!asset.bytes.is_empty(), "{name} is empty");
        }
        assert!(asset("../Cargo.toml").is_none());
    }

    /// Keys of one language block of `i18n.js` (`"key": "text",` lines between `LANG: {`
    /// and the closing `}`).
    fn keys(i18n: &str, lang: &str) -> std::collections::BTreeSet<String> {
        let start = i18n.find(&format!("  {lang}: {{")).expect("language block");
        let block = &i18n[start..];
        let end = block.find("\n  }").expect("end of block");
        block[..end]
            .lines()
            .filter_map(|line| line.trim().strip_prefix('"'))
            .filter_map(|rest| rest.split_once("\":"))
            .map(|(key, _)| key.to_owned())
            .collect()
    }

    #[test]
    fn every_string_is_in_both_languages_and_every_literal_key_exists() {
        let i18n = std::str::from_utf8(asset("i18n.js").unwrap().bytes).unwrap();
        let (en, it) = (keys(i18n, "en"), keys(i18n, "it"));
        assert!(en.len() > 100, "{}", en.len());
        assert_eq!(
            en.symmetric_difference(&it).collect::<Vec<_>>(),
            Vec::<&String>::new()
        );
        let app = std::str::from_utf8(asset("app.js").unwrap().bytes).unwrap();
        for (start, _) in app.match_indices("t(\"") {
            // `split(".")` is not a translation.
            if app[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
            {
                continue;
            }
            let rest = &app[start + 3..];
            let key = &rest[..rest.find('"').unwrap()];
            // `t("status." + s)`: a prefix completed at run time.
            if rest[key.len() + 1..].starts_with(" +") {
                continue;
            }
            assert!(en.contains(key), "app.js uses missing key `{key}`");
        }
    }

    #[test]
    fn scripts_never_assign_inner_html() {
        for (name, asset) in ASSETS.iter().filter(|(name, _)| name.ends_with(".js")) {
            let text = std::str::from_utf8(asset.bytes).unwrap();
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(!text.contains(sink), "{name} uses {sink}");
            }
        }
    }
}
