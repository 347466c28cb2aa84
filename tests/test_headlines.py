"""The headline extractor on hand-written pages, then on the real corpus."""

import pytest

from seqlab.data.headlines import clean_title, extract_headlines, headline_splits, is_title_line, news_headlines, strip_dateline


def test_title_above_notes_and_bylines_is_found_and_lead_loses_its_byline():
    lines = [
        "前一篇文章的最後一段結束了。",
        "李鵬在北京考察企業（附圖片1張）",
        "（新華社記者蘭紅光攝）",
        "本報記者王小明",
        "新華社北京12月31日電（記者任硌）今天是1997年的最後一天。",
        "正文第二段。",
    ]
    assert extract_headlines(lines) == [("李鵬在北京考察企業", "今天是1997年的最後一天。")]


def test_multi_line_headline_keeps_the_line_nearest_the_dateline():
    lines = [
        "上一篇的正文。",
        "姜春雲對全國防汛抗旱指揮部辦公室主任會議批示指出",  # kicker
        "切實做好汛前準備和抗旱工作",  # title
        "本報北京1月5日訊記者顧玉清、羅春華報道：全國防汛抗旱指揮部辦公室主任會議今天開幕。",
    ]
    assert extract_headlines(lines) == [("切實做好汛前準備和抗旱工作", "全國防汛抗旱指揮部辦公室主任會議今天開幕。")]


def test_briefs_bullets_prices_and_captions_are_not_titles():
    lines = [
        "全總致全國各族職工慰問信",
        "本報北京1月1日訊中華全國總工會今日發出慰問信。",
        "這是第一篇的第二段，講得很長很長。",
        "本報訊蘇丹總統日前發表談話。",  # a brief: the line above is body text
        "●竣工8012萬平方米",
        "本報訊另一則簡訊。",  # a bullet line is no title
        "5環保股份15.06",
        "本報訊又一則簡訊。",  # nor is a stock price
        "維也納舉行新年音樂會（圖片）",
        "本報訊還有一則。",  # nor a photo caption
    ]
    assert extract_headlines(lines) == [("全總致全國各族職工慰問信", "中華全國總工會今日發出慰問信。")]


def test_dateline_forms_and_full_width_digits():
    lines = [
        "日本六在野黨結盟",
        "本報東京１月８日電記者張國成報道：日本民主黨等６個在野黨今天結盟。",
        "越總理談今年工作指導方針",
        "中新社河內12月31日電越南總理今天在這裡說。",
        "災區各級政府全力組織抗災",
        "據新華社北京12月30日電西藏自治區政府副主席今天說。",
        "勝利海上油田產油創新高",
        "本報濟南十二月三十一日電截至一九九七年底，油田共生產原油２００萬噸。",
    ]
    assert extract_headlines(lines) == [
        ("日本六在野黨結盟", "日本民主黨等6個在野黨今天結盟。"),
        ("越總理談今年工作指導方針", "越南總理今天在這裡說。"),
        ("災區各級政府全力組織抗災", "西藏自治區政府副主席今天說。"),
        ("勝利海上油田產油創新高", "截至一九九七年底，油田共生產原油200萬噸。"),
    ]


def test_simplified_input_works_too():
    lines = ["北大与美商学院结盟", "本报讯经国务院学位委员会批准，北京大学将联合培养ＭＢＡ。"]
    assert extract_headlines(lines) == [("北大与美商学院结盟", "经国务院学位委员会批准，北京大学将联合培养MBA。")]


def test_title_line_rules_and_helpers():
    assert is_title_line("外交部發言人談明年外交工作重點")
    for line in ("（新華社記者周確攝）", "他說：", "句子結束了。", "很" * 41, "", "本報駐南非記者溫憲", "3深華髮A12.42"):
        assert not is_title_line(line), line
    assert clean_title("江主席與克雷庫總統會談（附圖片１張）") == "江主席與克雷庫總統會談"
    assert strip_dateline("新華社成都1月10日電（記者任硌）中共四川省委") == "中共四川省委"
    with pytest.raises(ValueError, match="dateline"):
        strip_dateline("沒有電頭的段落")


def test_real_corpus_gives_about_1300_distinct_headlines_in_fixed_splits():
    heads = news_headlines()
    titles = [h["title"] for h in heads]
    assert 1200 <= len(heads) <= 1400
    assert len(set(titles)) == len(titles)
    assert all(is_title_line(t) and h["lead"] for t, h in zip(titles, heads))
    assert not any(h["lead"].startswith(("（", "記者", "本報記者")) and "報道：" in h["lead"][:30] for h in heads)
    assert "謝世傑當選中共四川省委書記" in titles
    assert not any("１" in t or "（附圖片" in t for t in titles)
    splits = headline_splits()
    assert {k: len(v) for k, v in splits.items()} == {"train": 1011, "valid": 152, "test": 127}
    assert splits == headline_splits()
    assert not {h["title"] for h in splits["train"]} & {h["title"] for h in splits["test"]}
