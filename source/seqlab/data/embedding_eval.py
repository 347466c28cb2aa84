"""The course's word-embedding test set, written for the People's Daily (January 1998) corpus.

Two parts, in Traditional Chinese as :func:`seqlab.data.peoples_daily_words` gives the words;
every word occurs at least 10 times in that corpus (checked by a test):

* ``SIMILAR_GROUPS``: sets of words of one kind (countries, provinces, months, family, ...).
  A good embedding puts a word's nearest neighbours in its own set.
* ``ANALOGIES``: ``a : b :: c : d`` (東京 : 日本 :: 巴黎 : 法國). A good embedding has
  ``d`` closest to ``b - a + c``.

It is small and was written by the course, not taken from a published benchmark: read its
scores as a comparison of two methods on one corpus, not as a general measure of quality.
"""

from __future__ import annotations

from itertools import permutations

SIMILAR_GROUPS: dict[str, list[str]] = {
    "國家": ["中國", "美國", "日本", "俄羅斯", "法國", "英國", "德國", "韓國", "義大利", "加拿大",
           "澳大利亞", "伊拉克", "以色列", "泰國", "南非", "伊朗", "埃及", "越南"],
    "中國城市": ["北京", "上海", "天津", "重慶", "廣州", "深圳", "武漢", "南京", "杭州", "瀋陽",
             "西安", "成都", "哈爾濱", "青島", "大連", "長沙", "昆明", "濟南"],
    "省份": ["廣東", "山東", "河北", "河南", "江蘇", "浙江", "湖南", "湖北", "四川", "雲南", "貴州",
           "山西", "陝西", "甘肅", "福建", "江西", "安徽", "遼寧", "黑龍江", "青海", "海南"],
    "外國首都": ["東京", "華盛頓", "莫斯科", "巴黎", "倫敦", "漢城", "羅馬", "巴格達", "耶路撒冷",
             "開羅", "曼谷", "渥太華"],
    "月份": ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
    "家人": ["父親", "母親", "兒子", "女兒", "丈夫", "妻子", "爺爺", "奶奶", "孩子", "弟弟"],
    "運動": ["足球", "籃球", "排球", "乒乓球", "游泳", "田徑", "滑雪", "網球"],
    "職業": ["農民", "工人", "學生", "教師", "醫生", "記者", "作家", "科學家", "專家", "演員"],
    "職位": ["總統", "總理", "主席", "部長", "省長", "市長", "書記", "大使", "外長", "首相"],
    "貨幣": ["人民幣", "美元", "日元", "馬克", "英鎊", "港元"],
    "農產品": ["小麥", "玉米", "水稻", "糧食", "蔬菜", "水果", "棉花"],
    "交通": ["汽車", "火車", "飛機", "鐵路", "公路", "機場"],
    "能源與原料": ["鋼鐵", "煤炭", "石油", "電力", "化肥", "水泥", "天然氣"],
    "藝文": ["電視", "電影", "報紙", "廣播", "音樂", "戲劇", "文學", "藝術"],
    "天氣": ["雪", "雨", "風", "氣溫", "天氣", "寒冷"],
    "時間": ["今天", "昨天", "明天", "今年", "去年", "上午", "下午", "晚上"],
}

# Pairs that stand in one relation; every ordered pair of pairs is one analogy question.
_RELATIONS: dict[str, list[tuple[str, str]]] = {
    "首都—國家": [("東京", "日本"), ("華盛頓", "美國"), ("莫斯科", "俄羅斯"), ("巴黎", "法國"),
              ("倫敦", "英國"), ("漢城", "韓國"), ("羅馬", "義大利"), ("巴格達", "伊拉克"),
              ("耶路撒冷", "以色列"), ("開羅", "埃及"), ("曼谷", "泰國"), ("渥太華", "加拿大"),
              ("北京", "中國")],
    "省會—省份": [("廣州", "廣東"), ("南京", "江蘇"), ("杭州", "浙江"), ("武漢", "湖北"),
              ("長沙", "湖南"), ("成都", "四川"), ("昆明", "雲南"), ("瀋陽", "遼寧"),
              ("哈爾濱", "黑龍江"), ("濟南", "山東"), ("石家莊", "河北"), ("鄭州", "河南"),
              ("福州", "福建"), ("合肥", "安徽"), ("太原", "山西"), ("南昌", "江西"),
              ("蘭州", "甘肅"), ("貴陽", "貴州"), ("海口", "海南")],
    "貨幣—國家": [("美元", "美國"), ("日元", "日本"), ("英鎊", "英國"), ("馬克", "德國"),
              ("人民幣", "中國")],
    "男—女": [("父親", "母親"), ("兒子", "女兒"), ("丈夫", "妻子"), ("爺爺", "奶奶"),
            ("先生", "女士")],
    "反義": [("提高", "降低"), ("增加", "減少"), ("增長", "下降"), ("上午", "下午"), ("今年", "去年")],
}


def _analogies() -> dict[str, list[tuple[str, str, str, str]]]:
    return {
        name: [(a, b, c, d) for (a, b), (c, d) in permutations(pairs, 2)]
        for name, pairs in _RELATIONS.items()
    }


ANALOGIES: dict[str, list[tuple[str, str, str, str]]] = _analogies()
