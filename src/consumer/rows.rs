//! The output: one row per platform and check, printed as an aligned table.

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub platform: String,
    pub check: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Rows of one platform.
pub(super) struct PlatformRows {
    pub platform: String,
    pub rows: Vec<Row>,
}

impl PlatformRows {
    pub fn new(platform: String) -> Self {
        PlatformRows {
            platform,
            rows: Vec::new(),
        }
    }
    pub fn ok(&mut self, check: &'static str, detail: String) {
        self.push(check, true, detail);
    }
    pub fn fail(&mut self, check: &'static str, detail: String) {
        self.push(check, false, detail);
    }
    fn push(&mut self, check: &'static str, ok: bool, detail: String) {
        self.rows.push(Row {
            platform: self.platform.clone(),
            check,
            ok,
            detail,
        });
    }
}

/// Whitespace (newlines included) collapsed to single spaces: a detail is one cell.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The table: PLATFORM, CHECK, RESULT, DETAIL, columns aligned.
pub fn table(rows: &[Row]) -> String {
    let header = ["PLATFORM", "CHECK", "RESULT"];
    let cells: Vec<[&str; 3]> = rows
        .iter()
        .map(|r| {
            [
                r.platform.as_str(),
                r.check,
                if r.ok { "ok" } else { "FAIL" },
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for c in &cells {
        for i in 0..3 {
            width[i] = width[i].max(c[i].len());
        }
    }
    let line = |c: [&str; 3], detail: &str| {
        format!(
            "{:w0$}  {:w1$}  {:w2$}  {}\n",
            c[0],
            c[1],
            c[2],
            one_line(detail),
            w0 = width[0],
            w1 = width[1],
            w2 = width[2]
        )
    };
    let mut out = line(header, "DETAIL");
    for (c, r) in cells.into_iter().zip(rows) {
        out.push_str(&line(c, &r.detail));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let rows = vec![
            Row {
                platform: "linux/amd64".into(),
                check: "vsa",
                ok: true,
                detail: "PASSED".into(),
            },
            Row {
                platform: "linux/arm64".into(),
                check: "signature",
                ok: false,
                detail: "none\nverified".into(),
            },
        ];
        let t = table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "PLATFORM     CHECK      RESULT  DETAIL");
        assert_eq!(lines[1], "linux/amd64  vsa        ok      PASSED");
        assert_eq!(lines[2], "linux/arm64  signature  FAIL    none verified");
    }
}
