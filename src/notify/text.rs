//! Fitting text into platform limits: truncating with a visible marker and packing lines into
//! chunks, counting characters (Unicode scalar values) as Discord and Slack do. Pure, so that
//! every renderer shares one tested way of never sending a payload the platform would refuse.

/// Appended where text was cut.
pub const CUT_MARKER: &str = "…";

/// The number of characters in `s`.
pub fn chars(s: &str) -> usize {
    s.chars().count()
}

/// `s` cut to at most `max` characters, ending with [`CUT_MARKER`] when anything was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if chars(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let keep: String = s.chars().take(max - chars(CUT_MARKER)).collect();
    keep.trim_end().to_string() + CUT_MARKER
}

/// Packs `lines` into chunks of at most `max` characters each, lines joined by `\n`, in order.
/// A line longer than `max` on its own is truncated. No chunk is empty.
pub fn pack_lines<S: AsRef<str>>(lines: &[S], max: usize) -> Vec<String> {
    let mut chunks = vec![];
    let mut cur = String::new();
    let mut cur_len = 0;
    for line in lines {
        let line = truncate(line.as_ref(), max);
        let len = chars(&line);
        if !cur.is_empty() && cur_len + 1 + len > max {
            chunks.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        if !cur.is_empty() {
            cur.push('\n');
            cur_len += 1;
        }
        cur += &line;
        cur_len += len;
    }
    if !cur.is_empty() {
        chunks.push(cur);
    }
    chunks
}

/// The one markup neutral text may carry: `**bold**` (rule templates use it to set an account's
/// name apart). Splits `s` into (bold, text) runs; a `**` without its closing pair is text.
/// Renderers escape each run for their markup and emphasise the bold ones their own way.
pub fn bold_runs(s: &str) -> Vec<(bool, &str)> {
    let mut runs = vec![];
    let mut rest = s;
    while let Some(open) = rest.find("**") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("**") else { break };
        if close == 0 {
            // `****`: nothing to emphasise; keep it as text.
            runs.push((false, &rest[..open + 4]));
            rest = &after[2..];
            continue;
        }
        if open > 0 {
            runs.push((false, &rest[..open]));
        }
        runs.push((true, &after[..close]));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        runs.push((false, rest));
    }
    runs
}

/// `s` without its `**` emphasis marks (plain-text renderings).
pub fn strip_bold(s: &str) -> String {
    bold_runs(s).into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn bold_runs_pair_the_marks() {
        assert_eq!(
            super::bold_runs("**Acme** (owner Ana): **x** and **y"),
            [
                (true, "Acme"),
                (false, " (owner Ana): "),
                (true, "x"),
                (false, " and **y")
            ]
        );
        assert_eq!(super::bold_runs("plain"), [(false, "plain")]);
        assert_eq!(super::strip_bold("**Acme**: ok"), "Acme: ok");
        assert_eq!(super::bold_runs("a****b"), [(false, "a****"), (false, "b")]);
    }

    use super::*;

    #[test]
    fn truncates_with_a_marker_within_the_limit() {
        assert_eq!(truncate("hello", 5), "hello");
        assert_eq!(truncate("hello world", 8), "hello w…");
        assert_eq!(chars(&truncate(&"é".repeat(300), 256)), 256);
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn packs_lines_without_exceeding_the_limit() {
        let lines = ["aaaa", "bbbb", "cccc", &"d".repeat(20)];
        let chunks = pack_lines(&lines, 9);
        assert_eq!(chunks, ["aaaa\nbbbb", "cccc", "dddddddd…"]);
        assert!(pack_lines::<&str>(&[], 10).is_empty());
    }
}
