from seqlab.data.headlines import extract_headlines, is_title_line


def test_title_above_dateline_with_subtitle_notes_and_bylines():
    lines = [
        "前一篇文章的最後一段結束了。",
        "李鵬在北京考察企業",
        "向廣大職工祝賀新年，對節日堅守崗位的同志們表示慰問",
        "（附圖片1張）",
        "本報記者王小明",
        "新華社北京12月31日電今天是1997年的最後一天。",
        "正文第二段。",
    ]
    assert extract_headlines(lines) == [("李鵬在北京考察企業", "今天是1997年的最後一天。")]


def test_brief_without_title_is_skipped_and_each_dateline_counts():
    lines = [
        "全總致全國各族職工慰問信",
        "本報北京1月1日訊中華全國總工會今日發出慰問信。",
        "這是第一篇的第二段，講得很長很長。",
        "本報訊蘇丹總統日前發表談話。",  # a brief: the line above is body text
        "越總理談今年工作指導方針",
        "中新社河內12月31日電越南總理今天在這裡說。",
    ]
    assert extract_headlines(lines) == [
        ("全總致全國各族職工慰問信", "中華全國總工會今日發出慰問信。"),
        ("越總理談今年工作指導方針", "越南總理今天在這裡說。"),
    ]


def test_title_line_rules():
    assert is_title_line("外交部發言人談明年外交工作重點")
    assert not is_title_line("（新華社記者周確攝）")
    assert not is_title_line("他說：")
    assert not is_title_line("句子結束了。")
    assert not is_title_line("很" * 41)
    assert not is_title_line("")
