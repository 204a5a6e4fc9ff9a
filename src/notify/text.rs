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

#[cfg(test)]
mod tests {
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
