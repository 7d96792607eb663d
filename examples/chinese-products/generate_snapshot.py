#!/usr/bin/env python3
"""Generate a synthetic, seeded snapshot of Chinese products, shaped like Bright Data's Amazon dataset.

The same field names as the Bright Data Web Scraper API's Amazon products records
(``title``, ``brand``, ``description``, ``features``, ``categories``, ``final_price``,
``initial_price``, ``currency``, ``rating``, ``reviews_count``, ``asin``, ``url``,
``timestamp``, ``availability``, ``seller_name``, ``image_url``, ``domain``), here for a
Chinese storefront (amazon.cn, prices in CNY). All brands and products are made up.

Descriptions are Chinese prose in a house style per category (an opening naming the brand
and product, a sentence weaving in two or three feature bullets, a closing line; 60-150
characters), with English product terms inside (USB-C, LED, Type-C) as real listings have.
Noise, all seeded: HTML in descriptions, empty / missing descriptions, exact duplicates,
near duplicates (a re-listing with a new ASIN, "（2025新款）" in the title and one sentence
reworded), one-line teasers, English-only listings and Japanese listings.

Standard library only; the same ``--seed`` and ``--count`` give byte-identical output.

    python examples/chinese-products/generate_snapshot.py            # seed 11, 240 records
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "data" / "snapshot.json"
DEFAULT_SEED = 11
DEFAULT_COUNT = 240
MIN_COUNT = 60
DOMAIN = "https://www.amazon.cn/"
START = _dt.datetime(2025, 3, 3, 8, 0, 0, tzinfo=_dt.timezone.utc)

NOISE_RATES = {"html": 0.10, "empty_description": 0.04, "missing_description": 0.03, "exact_duplicate": 0.04,
               "near_duplicate": 0.06, "short": 0.03, "english": 0.04, "japanese": 0.02}
NOISE_KINDS = tuple(NOISE_RATES)

CATEGORIES: list[dict[str, Any]] = [
    {"name": "保温杯", "path": ["家居厨具", "水具酒具", "保温杯"], "price": (39, 199),
     "brands": ["暖途", "山川", "知味", "清泉"], "series": ["经典", "轻享", "旅行", "商务"],
     "specs": ["316不锈钢 500ml", "304不锈钢 350ml", "大容量 1000ml", "便携款 400ml"],
     "features": ["双层真空隔热，保温长达十二小时", "食品级不锈钢内胆，无异味", "一键弹盖，单手即可开合",
                  "防漏硅胶圈，放进包里也不怕洒", "杯身磨砂处理，握感舒适防滑", "可拆卸滤网，泡茶更方便"],
     "openings": ["{brand}{series}保温杯，是通勤和出行的好伙伴。", "这款{brand}{series}保温杯，专为忙碌的上班族设计。"],
     "closings": ["无论冬夏，都能随时喝上一口合适温度的水。", "送给家人朋友，也是一份贴心的礼物。"]},
    {"name": "蓝牙耳机", "path": ["数码影音", "耳机耳麦", "蓝牙耳机"], "price": (129, 699),
     "brands": ["声咖", "听澜", "极音", "北斗星"], "series": ["Air", "Pro", "青春版", "运动版"],
     "specs": ["主动降噪", "半入耳式", "长续航", "低延迟游戏版"],
     "features": ["主动降噪，地铁里也能安静听歌", "单次续航八小时，配合充电盒可用三十小时", "Type-C快充，充电十分钟听歌两小时",
                  "蓝牙5.3连接稳定，延迟更低", "IPX5防水，跑步出汗也不怕", "双麦克风通话降噪，声音更清晰"],
     "openings": ["{brand}{series}蓝牙耳机，让音乐随时陪伴你。", "想要一副好用又不贵的耳机？试试{brand}{series}。"],
     "closings": ["轻巧的耳机盒可以轻松放进口袋，随走随听。", "无论是通勤、运动还是居家办公，都能带来舒适的聆听体验。"]},
    {"name": "办公椅", "path": ["家具", "办公家具", "办公椅"], "price": (299, 1599),
     "brands": ["坐享", "木林森", "安居", "工匠"], "series": ["人体工学", "舒适款", "电竞款", "简约款"],
     "specs": ["网布靠背", "可躺款", "带脚托", "高背护颈"],
     "features": ["透气网布靠背，久坐不闷热", "腰部支撑可调节，贴合脊椎曲线", "3D扶手可升降，放松手臂和肩膀",
                  "高密度海绵坐垫，回弹性好", "静音万向轮，移动时不刮地板", "气压棒通过安全认证，升降平稳"],
     "openings": ["{brand}{series}办公椅，为长时间伏案的你而设计。", "一把好椅子能让工作轻松不少，{brand}{series}办公椅就是这样的选择。"],
     "closings": ["安装简单，按照说明书十几分钟就能完成。", "无论在公司还是在家办公，都能让你坐得更舒服。"]},
    {"name": "台灯", "path": ["家装建材", "灯饰照明", "台灯"], "price": (59, 399),
     "brands": ["明眸", "光合", "小米粒", "月影"], "series": ["护眼", "学生", "阅读", "折叠"],
     "specs": ["LED无频闪", "三档调光", "带无线充电", "USB充电款"],
     "features": ["LED光源无频闪，长时间阅读眼睛不累", "色温三档可调，白光暖光随心切换", "亮度无极调节，触控操作简单",
                  "灯臂可折叠，收纳不占地方", "内置锂电池，没有插座也能用", "底座带USB-C接口，可以给手机充电"],
     "openings": ["{brand}{series}台灯，给书桌带来柔和均匀的光。", "孩子写作业、大人加班看书，都离不开一盏{brand}{series}台灯。"],
     "closings": ["简洁的外观放在任何桌面上都很协调。", "让每一个夜晚的阅读都更加舒适。"]},
    {"name": "茶具", "path": ["家居厨具", "茶具", "功夫茶具"], "price": (89, 899),
     "brands": ["茗居", "青瓷坊", "一叶", "南山"], "series": ["汝窑", "白瓷", "粗陶", "玻璃"],
     "specs": ["一壶六杯", "快客杯套装", "带茶盘", "旅行便携装"],
     "features": ["手工拉坯，每一件都略有不同", "釉面温润，易于清洗不挂茶垢", "壶嘴出水顺畅，不滴水",
                  "耐高温，可以直接冲泡开水", "附带收纳包，外出携带方便", "包装精美，适合作为节日礼品"],
     "openings": ["{brand}{series}茶具，让日常喝茶多一分仪式感。", "喜欢喝茶的朋友，一定会爱上这套{brand}{series}茶具。"],
     "closings": ["和家人朋友围坐一起，慢慢品一壶好茶。", "无论自用还是送礼，都是不错的选择。"]},
    {"name": "充电宝", "path": ["手机通讯", "手机配件", "移动电源"], "price": (69, 299),
     "brands": ["电小满", "能量站", "闪充侠", "续航王"], "series": ["超薄", "快充", "磁吸", "大容量"],
     "specs": ["10000毫安", "20000毫安", "22.5W快充", "自带线"],
     "features": ["支持22.5W快充，手机半小时充到一半", "轻薄机身，可以放进衬衫口袋", "双向快充，给充电宝充电也很快",
                  "数字电量显示，剩余电量一目了然", "多重安全保护，防止过充过热", "可以同时给两台设备充电"],
     "openings": ["{brand}{series}充电宝，出门再也不用担心手机没电。", "经常出差的人，包里少不了一个{brand}{series}充电宝。"],
     "closings": ["符合民航携带规定，可以放心带上飞机。", "小巧可靠，是日常出行的必备好物。"]},
]

ENGLISH = ["Stainless steel travel mug keeps drinks hot for twelve hours. Leak-proof lid, fits most cup holders.",
           "Wireless earbuds with active noise cancelling and a compact charging case. Up to 30 hours of playback.",
           "Ergonomic office chair with breathable mesh back and adjustable lumbar support for long work days."]
JAPANESE = ["このステンレスボトルは真空断熱構造で、温かい飲み物を長時間保温できます。通勤やアウトドアにも最適です。",
            "人間工学に基づいて設計されたオフィスチェアで、長時間のデスクワークでも疲れにくいです。"]
SHORT = ["好用。", "质量不错，推荐购买。", "详情见图。"]


def _description(rng: random.Random, cat: dict[str, Any], brand: str, series: str, spec: str, color: str,
                 features: list[str]) -> str:
    picked = rng.sample(features, 3)
    middle = f"它的卖点很多：{picked[0]}；{picked[1]}；还有{picked[2]}。"
    detail = (f"这款{color}的{spec}版本净重约{rng.randint(120, 2400)}克，"
              f"{rng.choice(['提供一年质保', '提供两年质保', '支持七天无理由退换', '全国联保'])}。")
    return (rng.choice(cat["openings"]).format(brand=brand, series=series) + middle + detail
            + rng.choice(cat["closings"]))


def _asin(rng: random.Random, used: set[str]) -> str:
    while True:
        asin = "B0" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(8))
        if asin not in used:
            used.add(asin)
            return asin


def _product(rng: random.Random, cat: dict[str, Any], used: set, index: int) -> dict[str, Any]:
    while True:  # one listing per brand, series, spec and colour: anything else is a duplicate
        brand, series, spec = rng.choice(cat["brands"]), rng.choice(cat["series"]), rng.choice(cat["specs"])
        color = rng.choice(["黑色", "白色", "灰色", "蓝色", "粉色", "绿色"])
        if (brand, series, spec, color) not in used:
            used.add((brand, series, spec, color))  # type: ignore[arg-type]
            break
    features = rng.sample(cat["features"], 4)
    asin = _asin(rng, used)
    price = round(rng.uniform(*cat["price"]), 0) - 0.1
    initial = round(price * rng.uniform(1.0, 1.4), 0) - 0.1
    return {
        "title": f"{brand} {series}{cat['name']} {spec} {color}",
        "brand": brand, "seller_name": f"{brand}官方旗舰店",
        "description": _description(rng, cat, brand, series, spec, color, features),
        "features": features, "categories": list(cat["path"]),
        "final_price": price, "initial_price": initial, "currency": "CNY",
        "rating": round(rng.uniform(3.5, 5.0), 1), "reviews_count": rng.randint(3, 5000),
        "asin": asin, "url": f"{DOMAIN}dp/{asin}", "domain": DOMAIN,
        "image_url": f"https://m.media-amazon.com/images/I/{asin[2:]}._AC_SL1500_.jpg",
        "availability": rng.choice(["现货", "现货", "仅剩3件", "预计3天内发货"]),
        "timestamp": (START + _dt.timedelta(minutes=7 * index)).isoformat().replace("+00:00", "Z"),
    }


def _near_duplicate(rng: random.Random, cat: dict[str, Any], source: dict[str, Any], used: set[str]) -> dict[str, Any]:
    """A re-listing: new ASIN and price, "（2025新款）" in the title, the closing line reworded."""
    record = copy.deepcopy(source)
    record["asin"] = _asin(rng, used)
    record["url"] = f"{DOMAIN}dp/{record['asin']}"
    record["title"] = source["title"] + "（2025新款）"
    record["final_price"] = round(source["final_price"] * rng.uniform(0.9, 1.1), 1)
    closing = next((c for c in cat["closings"] if source["description"].endswith(c)), None)
    other = [c for c in cat["closings"] if c != closing]
    if closing and other:
        record["description"] = source["description"][: -len(closing)] + "现在下单还送精美礼品，" + other[0]
    return record


def noise_counts(count: int) -> dict[str, int]:
    """How many records of each noise kind a snapshot of ``count`` records gets (at least one each)."""
    return {kind: max(1, round(rate * count)) for kind, rate in NOISE_RATES.items()}


def build_snapshot(count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED
                   ) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """``count`` records, the noise kind of each ("" for a clean product) and the ASIN of the
    product each one lists (its own, or its original's for a duplicate): the ground truth."""
    rng = random.Random(seed)
    used: set[str] = set()
    noise = noise_counts(count)
    n_dups = noise["exact_duplicate"] + noise["near_duplicate"]
    base: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    for i in range(count - n_dups):
        cat = CATEGORIES[i % len(CATEGORIES)]
        base.append((_product(rng, cat, used, i), "", cat))
    order = list(range(len(base)))
    rng.shuffle(order)
    cursor = 0
    for kind in ("html", "empty_description", "missing_description", "short", "english", "japanese"):
        for _ in range(noise[kind]):
            record, _, cat = base[order[cursor]]
            cursor += 1
            _apply(rng, record, kind)
            base[order[cursor - 1]] = (record, kind, cat)
    records = [(r, k, r["asin"]) for r, k, _ in base]
    clean = [i for i, (_, k, _) in enumerate(base) if k == ""]
    for kind in ("exact_duplicate", "near_duplicate"):
        for _ in range(noise[kind]):
            source, _, cat = base[rng.choice(clean)]
            copy_ = copy.deepcopy(source) if kind == "exact_duplicate" else _near_duplicate(rng, cat, source, used)
            records.insert(rng.randint(len(records) // 2, len(records)), (copy_, kind, source["asin"]))
    return [r for r, _, _ in records], [k for _, k, _ in records], [a for _, _, a in records]


def _apply(rng: random.Random, record: dict[str, Any], kind: str) -> None:
    if kind == "html":
        parts = record["description"].split("。")
        record["description"] = "<p>" + "。</p><p>".join(p for p in parts if p) + "。</p><ul>" + "".join(
            f"<li><b>{f}</b></li>" for f in record["features"][:2]) + "</ul>&nbsp;"
    elif kind == "empty_description":
        record["description"] = ""
    elif kind == "missing_description":
        del record["description"]
    elif kind == "short":
        record["description"] = rng.choice(SHORT)
    elif kind == "english":
        record["title"] = "Imported " + record["asin"]
        record["description"] = rng.choice(ENGLISH)
    elif kind == "japanese":
        record["description"] = rng.choice(JAPANESE)


def serialize(records: list[dict[str, Any]], fmt: str = "json") -> str:
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a seeded synthetic Chinese products snapshot.")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help=f"records (minimum {MIN_COUNT})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--format", choices=["json", "ndjson"], default="json")
    args = parser.parse_args(argv)
    if args.count < MIN_COUNT:
        parser.error(f"--count must be at least {MIN_COUNT}")
    records, kinds, _ = build_snapshot(args.count, args.seed)
    write_atomic(args.out, serialize(records, args.format))
    detail = " ".join(f"{k}={kinds.count(k)}" for k in NOISE_KINDS)
    print(f"wrote {len(records)} products ({kinds.count('')} clean; {detail}) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
