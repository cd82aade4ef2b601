"""The preview page's one inline style sheet: cards that flow to any width, no script needed.

Layout rules the browser test holds us to: nothing wider than the viewport (the card grid's
columns shrink to the screen, long words such as UPNs wrap anywhere), and a badge image that
cannot load shows the same placeholder as a badge without an image, never a broken-image box:
the image sits over the placeholder (which also shows while it loads, and through a badge's
transparent corners), and a failed image's `::after` (rendered only when the image did not
load) paints the placeholder over the broken-image icon and the alt text.
"""

from __future__ import annotations

# A medal-like disc on a light square; used by `.thumb`, the failed image and `.noimage`.
_PLACEHOLDER = "radial-gradient(circle at 50% 45%,#c8c6c4 0 12px,transparent 13px) #edebe9"

STYLE = f"""
*,*::before,*::after{{box-sizing:border-box}}
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f3f2f1;
color:#201f1e;overflow-wrap:break-word}}
header.page,section.summary,nav.people{{background:#fff;margin:0 0 16px;padding:16px 24px;
box-shadow:0 1px 2px rgba(0,0,0,.1)}}
h1{{margin:0 0 8px;font-size:22px}}
h2{{font-size:18px;margin:0 0 8px}}
code.id{{font-family:ui-monospace,Consolas,monospace;font-size:13px;background:#f3f2f1;
padding:0 4px;border-radius:3px;overflow-wrap:anywhere}}
.totals span,.marker{{display:inline-block;border-radius:12px;padding:2px 10px;margin:0 6px 4px 0;
font-size:13px;background:#edebe9}}
.create .marker,.totals .create{{background:#dff6dd}}
.update .marker,.totals .update{{background:#fff4ce}}
.delete .marker,.totals .delete{{background:#fde7e9}}
table{{border-collapse:collapse;width:100%}}
td,th{{text-align:left;padding:4px 12px 4px 0;vertical-align:top;font-size:14px}}
nav.people p{{margin:0 0 8px;font-size:14px;color:#605e5c}}
nav.people details{{display:inline-block;vertical-align:top;margin:0 4px 4px 0}}
nav.people details[open]{{display:block;margin:4px 0 8px}}
nav.people summary{{cursor:pointer;display:inline-block;min-width:44px;padding:6px 10px;
border-radius:6px;background:#edebe9;font-weight:600;text-align:center}}
nav.people summary::-webkit-details-marker{{display:none}}
nav.people details[open]>summary{{background:#c7e0f4}}
nav.people details details{{margin-left:8px}}
nav.people ol{{list-style:none;margin:6px 0 0;padding:0 0 0 8px;columns:18rem;column-gap:24px}}
nav.people li{{font-size:14px;padding:3px 0;break-inside:avoid;overflow-wrap:anywhere}}
.count{{font-weight:400;color:#605e5c;font-size:12px;margin-left:4px}}
main{{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,22rem),1fr));gap:16px;
padding:0 24px 24px;align-items:start}}
article.card{{background:#fff;min-width:0;border-radius:6px;padding:16px;
box-shadow:0 1px 3px rgba(0,0,0,.15);border-top:4px solid #c8c6c4;scroll-margin-top:8px}}
article.card:target{{outline:3px solid #0078d4;outline-offset:2px}}
article.create{{border-top-color:#107c10}}
article.update{{border-top-color:#c19c00}}
article.delete{{border-top-color:#a4262c}}
article h2{{font-size:16px;margin:0 0 6px;overflow-wrap:anywhere}}
article h3{{font-size:13px;text-transform:uppercase;color:#605e5c;margin:14px 0 6px}}
.changes{{font-size:13px;color:#605e5c;margin:6px 0}}
ul.entries{{list-style:none;margin:0;padding:0}}
li.entry{{display:flex;gap:10px;margin:0 0 10px}}
li.entry>div{{min-width:0}}
.thumb,.noimage{{position:relative;display:block;width:48px;height:48px;flex:none;
overflow:hidden;border-radius:4px;background:{_PLACEHOLDER}}}
.thumb img{{display:block;width:48px;height:48px;object-fit:contain;color:transparent;
font-size:0}}
.thumb img::after{{content:"";position:absolute;inset:0;background:{_PLACEHOLDER}}}
.name{{font-weight:600}}
.meta{{font-size:12px;color:#605e5c}}
.new{{font-size:11px;background:#dff6dd;border-radius:8px;padding:0 6px;margin-left:4px}}
@media (max-width:600px){{
header.page,section.summary,nav.people{{padding:12px}}
main{{padding:0 8px 16px;gap:12px}}
article.card{{padding:12px}}
td,th{{padding-right:8px;font-size:13px}}
}}
"""
