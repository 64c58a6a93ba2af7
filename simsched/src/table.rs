//! Tables as kubectl prints them: upper-case headers, columns three spaces apart, no borders.

use std::io::Write;

use anyhow::Result;
use comfy_table::{ContentArrangement, Table, presets};

/// An empty borderless table.
pub fn table() -> Table {
    let mut t = Table::new();
    t.load_style(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
    t
}

/// Prints a table kubectl-style: columns three spaces apart, no trailing blanks.
pub fn write_rows(out: &mut impl Write, mut t: Table) -> Result<()> {
    for col in t.column_iter_mut() {
        col.set_padding((0, 3));
    }
    for line in t.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// A table of results as both the terminal and the HTML report show it, cell for cell: a note above it,
/// an optional header, and rows whose cells are already formatted (a best value starts with `*`).
#[derive(Clone, Debug, Default)]
pub struct ResultTable {
    /// The sentence above the table (what ranks, what the cells mean).
    pub note: String,
    /// Column headers; none for a key–value table.
    pub header: Vec<String>,
    /// Formatted cells, one vector per row.
    pub rows: Vec<Vec<String>>,
    /// Columns from this index on are numbers, aligned right.
    pub numbers_from: usize,
}

impl ResultTable {
    /// Prints the note and the table kubectl-style.
    pub fn write(&self, out: &mut impl Write) -> Result<()> {
        if !self.note.is_empty() {
            writeln!(out, "{}\n", self.note)?;
        }
        let mut t = table();
        if !self.header.is_empty() {
            t.set_header(self.header.clone());
        }
        for row in &self.rows {
            t.add_row(row.clone());
        }
        let n_columns = self.rows.iter().map(Vec::len).chain([self.header.len()]).max().unwrap_or(0);
        for idx in self.numbers_from..n_columns {
            if let Some(col) = t.column_mut(idx) {
                col.set_cell_alignment(comfy_table::CellAlignment::Right);
            }
        }
        write_rows(out, t)
    }
}

/// Seconds in the largest unit that keeps them above 1: `850ms`, `42.0s`, `12.5m`, `3.20h`, `149.3d`.
pub fn human_seconds(seconds: f64) -> String {
    let (value, unit) = seconds_in_unit(seconds, seconds);
    match unit {
        "ms" => format!("{value:.0}ms"),
        "h" => format!("{value:.2}h"),
        _ => format!("{value:.1}{unit}"),
    }
}

/// `seconds` expressed in the unit [`human_seconds`] would choose for `scale`.
pub fn seconds_in_unit(seconds: f64, scale: f64) -> (f64, &'static str) {
    let scale = scale.abs();
    if scale == 0.0 || scale >= 86_400.0 * 2.0 {
        if scale == 0.0 {
            return (seconds, "s");
        }
        (seconds / 86_400.0, "d")
    } else if scale >= 3600.0 {
        (seconds / 3600.0, "h")
    } else if scale >= 60.0 {
        (seconds / 60.0, "m")
    } else if scale >= 1.0 {
        (seconds, "s")
    } else {
        (seconds * 1000.0, "ms")
    }
}

/// A fraction as a percentage with one decimal: `45.3%`.
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        for (seconds, expected) in
            [(0.0, "0.0s"), (0.85, "850ms"), (42.0, "42.0s"), (750.0, "12.5m"), (11_520.0, "3.20h"), (12_902_960.0, "149.3d")]
        {
            assert_eq!(human_seconds(seconds), expected, "{seconds}");
        }
        assert_eq!(percent(0.4532), "45.3%");
    }
}
