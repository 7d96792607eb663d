"""Hand-made pages for the extraction identity tests: markup that exercises every path of
trafilatura's cascade (readability chosen, jusText rescue, baseline, recall escalation, a forum
thread) and every pruning rule of `webtune.clean.fast_trafilatura`."""

from __future__ import annotations

S = ("The council approved the new transport plan after a long debate about buses, trams and bicycle lanes, "
     "and promised to publish every contract online before the end of the year.")
D = ("Der Stadtrat hat den neuen Verkehrsplan nach einer langen Debatte über Busse, Straßenbahnen und Radwege "
     "beschlossen und versprochen, alle Verträge noch vor Jahresende im Internet zu veröffentlichen.")
Z = "市议会在经过关于公交车、有轨电车和自行车道的长时间辩论后批准了新的交通计划，并承诺在年底前公布所有合同。"
R = "Городской совет одобрил новый транспортный план после долгих дебатов об автобусах, трамваях и велодорожках."

def page(body, head="<title>T</title>", lang="en"):
    return f"<!DOCTYPE html><html lang='{lang}'><head>{head}</head><body>{body}</body></html>"

PAGES = {
    "boilerplate_attrs": page(
        "<div id='cookie-banner' class='consent'>We use cookies. <button>OK</button></div>"
        "<nav class='navbar' role='Navigation'><ul><li><a href='/'>Home</a></li><li><a href='/a'>About</a></li></ul></nav>"
        "<div class='mvp-post-add-box'><h2>Next story</h2><p>" + S + "</p></div>"
        "<section class='elementor-share-buttons'><a href='#'>Share on X</a></section>"
        f"<main><article class='article-body'><h1>Transport plan</h1><p>{S}</p><p>{S} {S}</p>"
        f"<div class='Teaser'><p>Teaser: {S}</p></div><div style='border: 1px solid'>Bordered {S}</div>"
        f"<div class='page bottom'>Bottom {S}</div><p class='link'>Link paragraph {S}</p>"
        f"<figure><img src='a.jpg'><figcaption class='caption'>A caption</figcaption></figure>"
        f"<span id='hidden-note'>Hidden {S}</span><p style='display:none'>Invisible {S}</p><p aria-hidden='true'>Aria {S}</p>"
        f"<div class='reply-box'>Reply {S}</div><div data-lp-replacement-content='1'>Replaced</div>"
        f"<div data-component='MostPopularStoriesList'><p>Popular {S}</p></div>"
        f"<p>{S}</p></article>"
        f"<div id='comments' class='comment-list'><div class='comment'><p>Great article! {S}</p></div></div>"
        f"<ol class='commentlist'><li>First comment {S}</li></ol><ul id='comment-thread'><li>Reply {S}</li></ul>"
        f"</main><aside class='sidebar'><div class='widget'>Related: <a href='/x'>X</a></div></aside>"
        f"<footer id='footer'><p>© 2025 Town</p></footer>"),
    "table_only": page("<table><tr><th>City</th><th>Population</th><th>Area</th></tr>"
                        + "".join(f"<tr><td>City {i}</td><td>{1000 * i}</td><td>{i}.5 km²</td></tr>" for i in range(30))
                        + "</table>"),
    "table_article": page(f"<article><h1>Results</h1><p>{S}</p><table><tr><td>A</td><td>1</td></tr>"
                          f"<tr><td>B</td><td>2</td></tr></table><p>{S}</p></article>"),
    "no_paragraphs": page("<div class='content'>" + "<br>".join(S for _ in range(6)) + "</div>"),
    "div_text_only": page("".join(f"<div>{S} {i}</div>" for i in range(8))),
    "very_short": page("<p>Hello world.</p>"),
    "empty_body": page(""),
    "only_script": page("<script>var x = 1;</script><style>p{color:red}</style>"),
    "german": page(f"<article><h1>Verkehrsplan</h1><p>{D}</p><p>{D}</p><p>{D}</p></article>", lang="de"),
    "chinese": page(f"<div id='article'><h1>交通计划</h1><p>{Z}</p><p>{Z}{Z}</p><p>{Z}</p></div>", lang="zh"),
    "russian": page(f"<main><h1>План</h1><p>{R}</p><p>{R} {R}</p></main>", lang="ru"),
    "broken_markup": (f"<html><body><div class='post'><p>{S}<p>{S}<div><span>{S}</div></p></b>"
                      f"<ul><li>{S}<li>{S}</ul><table><td>{S}</table></div><p>{S}"),
    "fragment": f"<p>{S}</p><p>{S}</p>",
    "link_farm": page("<ul>" + "".join(f"<li><a href='/p{i}'>Link number {i} to a page</a></li>" for i in range(80)) + "</ul>"),
    "comments_forum": page(
        "<script type='application/ld+json'>{\"@type\": \"DiscussionForumPosting\"}</script>"
        + "".join(f"<div class='comment' id='comment-{i}'><p>Post {i}: {S}</p></div>" for i in range(6))),
    "unclean_sections": page(
        f"<div class='entry-content'><p>{S}</p><aside><p>{S}</p></aside><nav><a href='/'>Home</a></nav>"
        f"<figure><p>{S}</p></figure><button>Click</button><p>{S}</p><iframe src='x'></iframe></div>"),
    "readability_bait": page(
        "<div id='wrap'>" + "".join(f"<div class='text-block'><div>{S} {S}</div></div>" for _ in range(5))
        + f"<div class='content'><table><tr><td>{S}</td></tr></table></div></div>"),
    "list_heavy": page(f"<article><h1>Steps</h1><ol>" + "".join(f"<li>{S}</li>" for _ in range(8)) + "</ol></article>"),
    "headings_only": page("".join(f"<h2>Heading {i} of a page with no text</h2>" for i in range(10))),
    "pre_code": page(f"<article><p>{S}</p><pre><code>def f(x):\n    return x + 1\n</code></pre><p>{S}</p></article>"),
    "quotes": page(f"<article><p>{S}</p><blockquote><p>{S}</p></blockquote><q>{S}</q><p>{S}</p></article>"),
    "math": page(f"<article><p>{S}</p><math alttext='x^2'><mi>x</mi></math><p>{S}</p></article>"),
    "forms": page(f"<form id='aspnetForm'><div class='main'><p>{S}</p><p>{S}</p><p>{S}</p></div></form>"),
    "infinite_scroll": page(
        f"<div class='post-content'><h1>Main</h1><p>{S}</p><p>{S}</p></div>"
        f"<div id='infinite-scroll'><article><h2>Next</h2><p>{S}</p></article></div>"),
}
PAGES["escalation"] = page(f"<article><h1>Short</h1><p>{S}</p><p>{S}</p><p>{S}</p></article>"
                           + "".join(f"<div class='sidebar-menu'><ul><li>{S} {S} {S}</li></ul></div>" for _ in range(12)))
