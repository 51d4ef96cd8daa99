//! The report's `index.html`: links to everything a run produced, with the tables inline and
//! the plots shown. Self-contained (inline style, no script, no network).

use std::fmt::Write;

use crate::html_escape;
use crate::pivot::PivotTable;

/// A plot, as the index shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotLink {
    /// Caption.
    pub title: String,
    /// The SVG, relative to the index.
    pub svg: String,
    /// The PNG, relative to the index.
    pub png: String,
}

/// A confusion-matrix or tagging page, as the index lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageLink {
    /// What it shows (`instrument (tinysol): logmel layer 0, linear`).
    pub label: String,
    /// The page, relative to the index.
    pub href: String,
    /// Deformations it covers; each gets a link that opens the page on it.
    pub deformations: Vec<String>,
}

/// Everything `index.html` shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Index {
    /// Experiment name.
    pub name: String,
    /// Run files (config, run log, tables), `(label, href)`.
    pub files: Vec<(String, String)>,
    /// Tables, shown inline.
    pub tables: Vec<PivotTable>,
    /// The tables' files, `(label, href)`.
    pub table_files: Vec<(String, String)>,
    /// Plots, by section title.
    pub plots: Vec<(String, Vec<PlotLink>)>,
    /// Confusion-matrix and tagging pages.
    pub pages: Vec<PageLink>,
    /// Notes shown at the top (tracks left out, what was skipped).
    pub notes: Vec<String>,
}

fn link(label: &str, href: &str) -> String {
    format!(
        "<a href=\"{}\">{}</a>",
        html_escape(href),
        html_escape(label)
    )
}

impl Index {
    /// The page.
    pub fn html(&self) -> String {
        let mut out = String::new();
        let name = html_escape(&self.name);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <link rel=\"icon\" href=\"data:,\">\n<title>mir-ref report: {name}</title>\n\
             <style>{STYLE}</style>\n</head>\n<body>\n<h1>mir-ref report: {name}</h1>\n"
        );
        for n in &self.notes {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", html_escape(n));
        }
        out.push_str("<nav><ul>\n");
        for (label, href) in &self.files {
            let _ = writeln!(out, "<li>{}</li>", link(label, href));
        }
        out.push_str(
            "<li><a href=\"#tables\">Tables</a></li><li><a href=\"#plots\">Plots</a></li>\
                      <li><a href=\"#confusion\">Confusion matrices and tagging pages</a></li>\n</ul></nav>\n",
        );

        out.push_str("<section id=\"tables\">\n<h2>Tables</h2>\n<p>");
        let files: Vec<String> = self.table_files.iter().map(|(l, h)| link(l, h)).collect();
        out.push_str(&files.join(" · "));
        out.push_str("</p>\n<p class=\"legend\">One seed: value [confidence interval]; several seeds: mean ± standard deviation; Δ: difference to clean audio; bold: best of its column.</p>\n");
        for t in &self.tables {
            out.push_str(&t.html());
        }
        out.push_str("</section>\n<section id=\"plots\">\n<h2>Plots</h2>\n");
        for (section, plots) in &self.plots {
            let _ = writeln!(
                out,
                "<h3>{}</h3>\n<div class=\"plots\">",
                html_escape(section)
            );
            for p in plots {
                let _ = writeln!(
                    out,
                    "<figure><img src=\"{}\" alt=\"{}\" width=\"900\" height=\"480\">\
                     <figcaption>{} ({}, {})</figcaption></figure>",
                    html_escape(&p.svg),
                    html_escape(&p.title),
                    html_escape(&p.title),
                    link("SVG", &p.svg),
                    link("PNG", &p.png)
                );
            }
            out.push_str("</div>\n");
        }
        out.push_str("</section>\n<section id=\"confusion\">\n<h2>Confusion matrices and tagging pages</h2>\n");
        if self.pages.is_empty() {
            out.push_str("<p>No classification or tagging task: no page.</p>\n");
        }
        out.push_str("<ul>\n");
        for p in &self.pages {
            let deformations: Vec<String> = p
                .deformations
                .iter()
                .map(|d| link(d, &format!("{}#deformation={d}", p.href)))
                .collect();
            let _ = writeln!(
                out,
                "<li>{}: {}</li>",
                link(&p.label, &p.href),
                deformations.join(", ")
            );
        }
        out.push_str("</ul>\n</section>\n</body>\n</html>\n");
        out
    }
}

/// A standalone page of one preset's tables, styled as the index.
pub fn tables_page(name: &str, tables: &[PivotTable]) -> String {
    let body: String = tables.iter().map(PivotTable::html).collect();
    let name = html_escape(name);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <link rel=\"icon\" href=\"data:,\">\n<title>{name}: tables</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>{name}: tables</h1>\n{body}</body>\n</html>\n"
    )
}

const STYLE: &str = "body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; max-width: 1400px; }\
nav ul { display: flex; flex-wrap: wrap; gap: 1rem; list-style: none; padding: 0; }\
table.metrics { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.85rem; }\
table.metrics caption { text-align: left; font-weight: 600; padding: 0.3rem 0; }\
table.metrics th, table.metrics td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; }\
table.metrics td.best { font-weight: 700; background: #eef6ee; }\
.legend, .note { color: #555; font-size: 0.9rem; }\
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }\
figure { margin: 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }\
figcaption { font-size: 0.8rem; color: #555; }";
