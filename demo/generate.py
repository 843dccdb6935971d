#!/usr/bin/env python3
"""Generate the demo city's import files: 江澄市 (Jiangcheng), scheme DEMO-2024.

Everything here is invented: the city, its counties, districts, departments, stationed units and
all numbers. The files are written in the formats a real assessment office sends, and they are
imported exactly as a user's files would be (``kaohe demo`` → ``workflows.demo.load_demo``):

- ``scheme.xlsx``   sheets scheme, categories, sections, units, indicators (English headers)
- ``targets.xlsx``  sheet targets (Chinese header labels)
- ``progress.csv``  GB18030, Chinese header labels (what Excel in China saves)
- ``events.csv``    UTF-8 with BOM, Chinese header labels

The output is deterministic: a seeded ``random.Random``, no wall clock, and the .xlsx archives are
rewritten with fixed timestamps (openpyxl stamps docProps/core.xml and every zip member with
"now"). Re-running gives byte-identical files; ``tests/test_demo.py`` checks it.

Usage: ``python demo/generate.py [--out DIR]`` (default: demo/city next to this file).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook

SEED = 20240101
SCHEME = "DEMO-2024"
YEAR = 2024
MONTHS = tuple(range(1, 13))
QUARTER_ENDS = (3, 6, 9, 12)
FIXED_TIME = datetime(2024, 1, 2, 9, 0, 0)
ZIP_TIME = (2024, 1, 2, 9, 0, 0)
OFFICE = "江澄市考核办"
VERIFIER = "市考核办 李娜"
STATS = "市统计局"

Value = str | int | float | Decimal | date | None

# ---------------------------------------------------------------------------------------------
# Scheme, categories, sections
# ---------------------------------------------------------------------------------------------

SCHEME_ROW: dict[str, Value] = {
    "code": SCHEME,
    "year": YEAR,
    "name": "江澄市2024年度县（区）和市直部门目标管理绩效考核办法（演示）",
    "cutoff_date": date(2024, 12, 31),
    "adjustment_cutoff_date": date(2024, 9, 30),
    # 2023's scheme is not in the demo's database: its cut-off, which decides HON-04's carry-over
    "previous_cutoff_date": date(2023, 12, 31),
    "publication_days": 7,
    "appeal_days": 5,
}

# code, zh, en, excellent_min, good_min, fair_min, excellent_quota
CATEGORIES: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("county", "县（区）", "Counties and districts", "90", "80", "60", "3"),
    ("department", "市直部门", "Municipal departments", "90", "80", "60", "20%"),
    ("stationed", "驻市单位", "Stationed units", "92", "80", "60", "4"),
)

# category, code, zh, en, weight
SECTIONS: tuple[tuple[str, str, str, str, str], ...] = (
    ("county", "key_work", "重点工作", "Key work", "40"),
    ("county", "quantitative", "定量指标", "Quantitative indicators", "50"),
    ("county", "other", "其他工作", "Other work", "10"),
    ("department", "key_work", "重点工作", "Key work", "20"),
    ("department", "core_duty", "核心职能", "Core duties", "60"),
    ("department", "evaluation", "社会评价", "Social evaluation", "20"),
    ("stationed", "core_duty", "目标任务", "Target tasks", "80"),
    ("stationed", "evaluation", "社会评价", "Social evaluation", "20"),
)

# ---------------------------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------------------------

# code, name, level, GDP 2023 in 亿元 (drives the size of every county target)
COUNTIES: tuple[tuple[str, str, str, int], ...] = (
    ("C01", "青溪县", "county", 268),
    ("C02", "白沙县", "county", 215),
    ("C03", "梅岭县", "county", 182),
    ("C04", "安丰县", "county", 236),
    ("C05", "澄江区", "district", 812),
    ("C06", "江北区", "district", 565),
    ("C07", "云台区", "district", 398),
    ("C08", "新港区", "district", 476),
    ("C09", "南湖区", "district", 342),
)

DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("D01", "市发展和改革委员会"),
    ("D02", "市财政局"),
    ("D03", "市统计局"),
    ("D04", "市商务局"),
    ("D05", "市生态环境局"),
    ("D06", "市应急管理局"),
    ("D07", "市工业和信息化局"),
    ("D08", "市科学技术局"),
    ("D09", "市教育局"),
    ("D10", "市公安局"),
    ("D11", "市民政局"),
    ("D12", "市司法局"),
    ("D13", "市人力资源和社会保障局"),
    ("D14", "市自然资源和规划局"),
    ("D15", "市住房和城乡建设局"),
    ("D16", "市交通运输局"),
    ("D17", "市水利局"),
    ("D18", "市农业农村局"),
    ("D19", "市文化广电和旅游局"),
    ("D20", "市卫生健康委员会"),
    ("D21", "市退役军人事务局"),
    ("D22", "市审计局"),
    ("D23", "市市场监督管理局"),
    ("D24", "市城市管理局"),
    ("D25", "市信访局"),
    ("D26", "市医疗保障局"),
    ("D27", "市林业局"),
    ("D28", "市体育局"),
    ("D29", "市行政审批服务局"),
    ("D30", "市人民政府国有资产监督管理委员会"),
    ("D31", "市地方金融管理局"),
    ("D32", "市机关事务管理局"),
    ("D33", "市人民政府外事办公室"),
    ("D34", "市大数据管理局"),
    ("D35", "市粮食和物资储备局"),
    ("D36", "市人民防空办公室"),
    ("D37", "市供销合作社"),
    ("D38", "市民族宗教事务局"),
    ("D39", "市档案馆"),
    ("D40", "市投资促进局"),
    ("D41", "市住房公积金管理中心"),
    ("D42", "市公共资源交易中心"),
    ("D43", "市融媒体中心"),
    ("D44", "市总工会"),
    ("D45", "共青团江澄市委员会"),
    ("D46", "市妇女联合会"),
    ("D47", "市工商业联合会"),
    ("D48", "市科学技术协会"),
)

STATIONED: tuple[tuple[str, str], ...] = (
    ("S01", "国家税务总局江澄市税务局"),
    ("S02", "江澄海关"),
    ("S03", "国网江澄供电公司"),
    ("S04", "中国人民银行江澄市分行"),
    ("S05", "国家金融监督管理总局江澄监管分局"),
    ("S06", "中国工商银行江澄分行"),
    ("S07", "中国农业银行江澄分行"),
    ("S08", "中国银行江澄分行"),
    ("S09", "中国建设银行江澄分行"),
    ("S10", "中国农业发展银行江澄市分行"),
    ("S11", "江澄市气象局"),
    ("S12", "国家统计局江澄调查队"),
    ("S13", "中国移动江澄分公司"),
    ("S14", "中国电信江澄分公司"),
    ("S15", "中国联通江澄分公司"),
    ("S16", "江澄市邮政管理局"),
    ("S17", "江澄市烟草专卖局"),
    ("S18", "中国石化江澄石油分公司"),
)

# ---------------------------------------------------------------------------------------------
# Indicators
# ---------------------------------------------------------------------------------------------

STEP = {
    "per_point": "0.1",
    "over_bands": [{"upto": "130", "per_point": "0.2"}, {"per_point": "0.1"}],
    "net_limit": "10",
}
DECAY = {"step_pct": "5", "floor_pct": "50"}
RUBRIC = {"scale": "100"}
RANK_TABLE = {"table": {"1": "5", "2": "4.6", "3": "4.2", "4": "3.8", "5": "3.4", "6": "3",
                        "7": "2.6", "8": "2.2", "9": "1.8"}}


@dataclass(frozen=True)
class Ind:
    """An indicator row, and ``series``: how its progress is reported.

    series: amount (cumulative, pro-rata), rate (year-to-date growth, flat milestones),
    level (a level where lower is better, flat milestones), pm25 (year-to-date mean, flat),
    count (cumulative deaths or petitions against a control line, flat), milestones (a key
    project schedule), score (a rubric or evaluation score, reported 2024-06 and 2024-12).
    """

    code: str
    name_zh: str
    name_en: str
    section: str
    measure: str
    direction: str
    method: str
    points: str
    params: dict[str, Any]
    source: str | None
    series: str


def _ind(code: str, zh: str, en: str, section: str, measure: str, direction: str, method: str,
         points: str, params: dict[str, Any] | None = None, source: str | None = None,
         series: str = "amount") -> Ind:
    return Ind(code, zh, en, section, measure, direction, method, points, params or {}, source, series)


PROP = {"ceiling": "1.2"}

COUNTY_INDICATORS: tuple[Ind, ...] = (
    # 重点工作 key_work (40)
    _ind("CK01", "省市重点项目年度投资完成", "Annual investment in provincial and municipal key projects",
         "key_work", "亿元", "higher", "step", "10", STEP, "市发展和改革委员会", "milestones"),
    _ind("CK02", "招商引资到位资金", "Investment attracted and paid in", "key_work", "亿元", "higher",
         "proportional", "8", PROP, "市投资促进局"),
    _ind("CK03", "新开工千万元以上工业项目", "New industrial projects over 10 million yuan",
         "key_work", "个", "higher", "proportional", "6", {"ceiling": "1.5"}, "市工业和信息化局"),
    _ind("CK04", "乡村振兴实绩考核", "Rural revitalisation performance review", "key_work", "分",
         "higher", "rubric", "6", RUBRIC, "市农业农村局", "score"),
    _ind("CK05", "营商环境评价", "Business environment evaluation", "key_work", "分", "higher",
         "ranking_table", "5", RANK_TABLE, "市行政审批服务局", "score"),
    _ind("CK06", "城镇老旧小区改造开工", "Old urban residential communities renovated", "key_work",
         "个", "higher", "pass_fail", "5", {}, "市住房和城乡建设局", "milestones"),
    # 定量指标 quantitative (50)
    _ind("CQ01", "地区生产总值增速", "GDP growth", "quantitative", "%", "higher", "step", "6",
         {**STEP, "over_bonus_cap": "3"}, STATS, "rate"),
    _ind("CQ02", "规模以上工业增加值增速", "Growth of industrial value added above designated size",
         "quantitative", "%", "higher", "step", "3", STEP, STATS, "rate"),
    _ind("CQ03", "固定资产投资增速", "Fixed-asset investment growth", "quantitative", "%", "higher",
         "step", "4", STEP, STATS, "rate"),
    _ind("CQ04", "工业投资", "Industrial investment", "quantitative", "亿元", "higher", "proportional",
         "4", PROP, STATS),
    _ind("CQ05", "一般公共预算收入", "General public budget revenue", "quantitative", "亿元", "higher",
         "proportional", "5", {**PROP, "over_bonus_cap": "3"}, "市财政局"),
    _ind("CQ06", "实际使用外资", "Actual use of foreign capital", "quantitative", "万美元", "higher",
         "proportional", "3", PROP, "市商务局"),
    _ind("CQ07", "社会消费品零售总额增速", "Growth of retail sales of consumer goods", "quantitative",
         "%", "higher", "step", "3", STEP, STATS, "rate"),
    _ind("CQ08", "外贸进出口总额", "Total foreign trade (imports and exports)", "quantitative", "亿元",
         "higher", "proportional", "2", PROP, "江澄海关"),
    _ind("CQ09", "城镇居民人均可支配收入增速", "Growth of urban per-capita disposable income",
         "quantitative", "%", "higher", "ranking_decay", "3", {**DECAY, "over_bonus_cap": "2"},
         "国家统计局江澄调查队", "rate"),
    _ind("CQ10", "农村居民人均可支配收入增速", "Growth of rural per-capita disposable income",
         "quantitative", "%", "higher", "ranking_decay", "3", DECAY, "国家统计局江澄调查队", "rate"),
    _ind("CQ11", "单位地区生产总值能耗", "Energy consumption per unit of GDP", "quantitative",
         "吨标准煤/万元", "lower", "lower_better", "3", {"ceiling": "1.1"}, STATS, "level"),
    _ind("CQ12", "PM2.5年均浓度", "Annual mean PM2.5 concentration", "quantitative", "微克/立方米",
         "lower", "lower_better", "3", {"ceiling": "1.1"}, "市生态环境局", "pm25"),
    _ind("CQ13", "新登记市场主体", "Newly registered market entities", "quantitative", "户", "higher",
         "proportional", "2", PROP, "市市场监督管理局"),
    _ind("CQ14", "高新技术企业净增数", "Net increase of high-tech enterprises", "quantitative", "家",
         "higher", "proportional", "2", PROP, "市科学技术局"),
    _ind("CQ15", "城镇新增就业", "New urban jobs", "quantitative", "人", "higher", "proportional", "2",
         PROP, "市人力资源和社会保障局"),
    _ind("CQ16", "生产安全事故死亡人数", "Deaths in work-safety accidents", "quantitative", "人",
         "control_line", "control_line", "2", {"over_score": "0"}, "市应急管理局", "count"),
    # 其他工作 other (10)
    _ind("CO01", "赴省进京越级信访批次", "Petitions to the province and Beijing (batches)", "other",
         "批次", "control_line", "control_line", "4", {"over_score": "0", "over_bonus_cap": "2"},
         "市信访局", "count"),
    _ind("CO02", "党风廉政建设", "Party conduct and integrity", "other", "分", "higher", "rubric", "3",
         RUBRIC, "市纪委监委", "score"),
    _ind("CO03", "平安建设", "Public safety and social governance", "other", "分", "higher", "rubric",
         "3", RUBRIC, "市委政法委", "score"),
)

DEPARTMENT_INDICATORS: tuple[Ind, ...] = (
    _ind("DK01", "市委市政府交办重点任务", "Key tasks assigned by the municipal Party committee and "
         "government", "key_work", "项", "higher", "proportional", "12", {"ceiling": "1"}, OFFICE),
    _ind("DK02", "重点改革任务", "Key reform tasks", "key_work", "项", "higher", "pass_fail", "8", {},
         "市委改革办"),
    _ind("DC01", "全市一般公共预算收入", "City general public budget revenue", "core_duty", "亿元",
         "higher", "proportional", "30", {**PROP, "over_bonus_cap": "3"}),
    _ind("DC02", "统计数据质量评估", "Statistical data quality assessment", "core_duty", "分", "higher",
         "rubric", "30", RUBRIC, "省统计局", "score"),
    _ind("DC03", "全市社会消费品零售总额", "City retail sales of consumer goods", "core_duty", "亿元",
         "higher", "proportional", "30", PROP, STATS),
    _ind("DC04", "全市实际使用外资", "City actual use of foreign capital", "core_duty", "万美元",
         "higher", "proportional", "30", PROP, "市商务局"),
    _ind("DC05", "全市固定资产投资增速", "City fixed-asset investment growth", "core_duty", "%",
         "higher", "step", "30", STEP, STATS, "rate"),
    _ind("DC06", "全市PM2.5年均浓度", "City annual mean PM2.5 concentration", "core_duty", "微克/立方米",
         "lower", "lower_better", "30", {"ceiling": "1.1"}, "省生态环境厅", "pm25"),
    _ind("DC07", "全市生产安全事故死亡人数", "City deaths in work-safety accidents", "core_duty", "人",
         "control_line", "control_line", "30", {"over_score": "0"}, None, "count"),
    _ind("DC08", "全市规模以上工业增加值增速", "City growth of industrial value added above "
         "designated size", "core_duty", "%", "higher", "step", "30", STEP, STATS, "rate"),
    _ind("DC09", "全市高新技术企业净增数", "City net increase of high-tech enterprises", "core_duty",
         "家", "higher", "proportional", "30", PROP),
    _ind("DC10", "全市城镇新增就业", "City new urban jobs", "core_duty", "人", "higher", "proportional",
         "30", PROP),
    _ind("DC11", "全市新登记市场主体", "City newly registered market entities", "core_duty", "户",
         "higher", "proportional", "30", PROP),
    _ind("DC12", "信访事项按期办结率", "Petition cases closed on time", "core_duty", "%", "higher",
         "proportional", "30", {"ceiling": "1"}, None, "rate"),
    _ind("DC13", "企业开办和项目审批平均时限", "Average time to open a business and approve a project",
         "core_duty", "工作日", "lower", "lower_better", "30", {"ceiling": "1.1"}, None, "level"),
    _ind("DC14", "耕地保有量", "Cultivated land retained", "core_duty", "万亩", "higher", "pass_fail",
         "30", {}, "省自然资源厅", "level_higher"),
    _ind("DC15", "部门职能目标完成率", "Completion of the department's functional targets",
         "core_duty", "%", "higher", "proportional", "30", {"ceiling": "1"}),
    _ind("DC16", "部门专项工作完成率", "Completion of the department's special work", "core_duty", "%",
         "higher", "proportional", "30", {"ceiling": "1"}),
    _ind("EV01", "社会评价（满意度测评）", "Social evaluation (satisfaction survey)", "evaluation", "分",
         "higher", "rubric", "20", RUBRIC, "江澄市社情民意调查中心", "score"),
)

STATIONED_INDICATORS: tuple[Ind, ...] = (
    _ind("SC01", "服务地方发展重点任务", "Key tasks in support of local development", "core_duty",
         "项", "higher", "proportional", "40", {"ceiling": "1"}, OFFICE),
    _ind("SC02", "税收收入", "Tax revenue collected", "core_duty", "亿元", "higher", "proportional",
         "40", {"ceiling": "1.1"}),
    _ind("SC03", "进口货物整体通关时间", "Overall customs clearance time for imports", "core_duty",
         "小时", "lower", "lower_better", "40", {"ceiling": "1.1"}, None, "level"),
    _ind("SC04", "城市用户供电可靠率", "Urban power supply reliability", "core_duty", "%", "higher",
         "step", "40", STEP, None, "level_higher"),
    _ind("SC05", "各项贷款余额增速", "Loan balance growth", "core_duty", "%", "higher",
         "ranking_decay", "40", DECAY, "中国人民银行江澄市分行", "rate"),
    _ind("SC06", "5G基站新建数", "New 5G base stations", "core_duty", "个", "higher", "proportional",
         "40", PROP, "市工业和信息化局"),
    _ind("SC07", "驻市单位职能目标完成率", "Completion of the stationed unit's functional targets",
         "core_duty", "%", "higher", "proportional", "40", {"ceiling": "1"}),
)

INDICATORS: tuple[Ind, ...] = COUNTY_INDICATORS + DEPARTMENT_INDICATORS + STATIONED_INDICATORS
IND: dict[str, Ind] = {i.code: i for i in INDICATORS}

# The department-specific core-duty indicator (with co-units for shared targets); the others
# take DC16. Every department also has DK01, DK02, DC15 and EV01.
DEPT_SPECIFIC: dict[str, tuple[str, str | None]] = {
    "D02": ("DC01", None),
    "D03": ("DC02", None),
    "D04": ("DC03", None),
    "D40": ("DC04", "D04:0.3;D33:0.1"),
    "D01": ("DC05", "D14:0.2;D15:0.2"),
    "D05": ("DC06", "D15:0.1;D16:0.1;D24:0.2"),
    "D06": ("DC07", "D07;D15;D16"),
    "D07": ("DC08", None),
    "D08": ("DC09", None),
    "D13": ("DC10", None),
    "D23": ("DC11", None),
    "D25": ("DC12", None),
    "D29": ("DC13", None),
    "D14": ("DC14", None),
}
STATIONED_SPECIFIC: dict[str, str] = {
    "S01": "SC02", "S02": "SC03", "S03": "SC04",
    "S06": "SC05", "S07": "SC05", "S08": "SC05", "S09": "SC05", "S10": "SC05",
    "S13": "SC06", "S14": "SC06", "S15": "SC06",
}

# ---------------------------------------------------------------------------------------------
# Lagging and catching-up cases: cumulative progress as a share of the schedule at month m
# ---------------------------------------------------------------------------------------------

LAG_CASES: dict[tuple[str, str], tuple[float, ...]] = {
    # 云台区 industrial investment: <80% at Q1, <60% at Q2, never catches up.
    ("C07", "CQ04"): (0.80, 0.76, 0.72, 0.66, 0.60, 0.56, 0.58, 0.61, 0.64, 0.68, 0.73, 0.78),
    # 梅岭县 key projects: <60% of the June milestone, <80% in September, 103% in December.
    ("C03", "CK01"): (0.70, 0.66, 0.62, 0.60, 0.58, 0.57, 0.64, 0.72, 0.79, 0.88, 0.96, 1.03),
    # 青溪县 new market entities: <80% at Q1, catches up by December.
    ("C01", "CQ13"): (0.74, 0.75, 0.76, 0.80, 0.83, 0.84, 0.87, 0.90, 0.93, 0.96, 0.99, 1.02),
    # 南湖区 budget revenue: <80% at Q3, 97% in December.
    ("C09", "CQ05"): (0.92, 0.90, 0.88, 0.85, 0.83, 0.81, 0.80, 0.79, 0.78, 0.86, 0.92, 0.97),
    # 市住房和城乡建设局 key tasks: 50% at Q2, 67% at Q3, 83% at year end.
    ("D15", "DK01"): (0.0, 0.0, 0.67, 0.5, 0.6, 0.5, 0.57, 0.63, 0.67, 0.7, 0.73, 0.83),
    # 中国电信 5G stations: <80% at Q1 and Q2, 105% in December.
    ("S14", "SC06"): (0.66, 0.68, 0.70, 0.72, 0.75, 0.78, 0.82, 0.86, 0.90, 0.95, 1.0, 1.05),
}

# Tasks left unfinished at year end (a pass_fail indicator that fails).
UNFINISHED = {("D12", "DK02")}

# Verified values (核定值) the office set on some reports: (unit, indicator, month) → (cut, reason);
# the verified value is the reported one less the cut.
VERIFIED: dict[tuple[str, str, int], tuple[str, str]] = {
    ("C05", "CK02", 12): ("17.2", "剔除重复计算的增资扩股资金17.2亿元"),
    ("C02", "CK03", 12): ("3", "3个项目未入统，核减"),
    ("D40", "DC04", 12): ("4200", "剔除未到账外资4200万美元"),
    ("C01", "CQ06", 12): ("0", "经市商务局系统核对一致"),
    ("C06", "CQ04", 6): ("0", "半年核查无误"),
}

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def q(value: float | Decimal, places: int) -> Decimal:
    """Round half-up to ``places`` decimals (no float formatting surprises)."""
    exp = Decimal(1).scaleb(-places)
    return Decimal(str(value)).quantize(exp, rounding=ROUND_HALF_UP)


def places_of(ind: Ind) -> int:
    if ind.code == "SC04":  # reliability 99.95%
        return 3
    if ind.measure in ("个", "户", "家", "人", "项", "批次"):
        return 0
    if ind.measure == "吨标准煤/万元":
        return 3
    if ind.measure in ("万美元",):
        return 0
    if ind.measure in ("%", "微克/立方米", "小时", "工作日", "万亩"):
        return 1
    if ind.measure == "分":
        return 1
    return 2  # 亿元


def as_cell(value: Value) -> Value:
    """What goes into an xlsx cell: numbers as numbers (as an office's workbook holds them)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def as_text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def milestone_text(values: dict[int, Decimal]) -> str:
    return ";".join(f"{m:02d}={v}" for m, v in sorted(values.items()))


# ---------------------------------------------------------------------------------------------
# Targets and progress
# ---------------------------------------------------------------------------------------------


@dataclass
class Target:
    unit: str
    ind: Ind
    annual: Decimal
    milestones: dict[int, Decimal] | None = None
    co_units: str | None = None
    # Final completion ratio of the annual value and the curve exponent (slow starts > 1).
    finish: float = 1.0
    curve: float = 1.0


def county_annual(rng: random.Random, ind: Ind, gdp: int, code: str) -> Decimal:
    p = places_of(ind)
    u = rng.uniform
    table: dict[str, float] = {
        "CK01": gdp * u(0.13, 0.19),
        "CK02": gdp * u(0.22, 0.30),
        "CK03": max(8.0, gdp / 30 * u(0.9, 1.1)),
        "CK04": 100, "CK05": 90, "CO02": 100, "CO03": 100,
        "CK06": max(10.0, gdp / 22 * u(0.8, 1.2)),
        "CQ01": u(5.5, 6.5), "CQ02": u(6.5, 8.5), "CQ03": u(5.0, 8.0),
        "CQ04": gdp * u(0.10, 0.14), "CQ05": gdp * u(0.058, 0.072),
        "CQ06": round(gdp * u(10, 14), -1), "CQ07": u(5.5, 6.5),
        "CQ08": gdp * (0.55 if code == "C08" else u(0.18, 0.28)),
        "CQ09": u(5.0, 5.6), "CQ10": u(6.5, 7.2), "CQ11": u(0.38, 0.62),
        "CQ12": u(31, 36), "CQ13": round(gdp * u(16, 20), -2), "CQ14": gdp / 12 * u(0.9, 1.1),
        "CQ15": round(gdp * u(12, 16), -2), "CQ16": 2 if gdp < 300 else 3,
        "CO01": 2 if gdp < 300 else 4,
    }
    return q(table[ind.code], p)


def dept_annual(rng: random.Random, ind: Ind) -> Decimal:
    u = rng.uniform
    table: dict[str, float] = {
        "DK01": rng.randint(6, 15), "DK02": rng.randint(2, 5),
        "DC01": 248.6, "DC02": 100, "DC03": 1652.0, "DC04": 52000, "DC05": 6.0, "DC06": 33.0,
        "DC07": 18, "DC08": 7.5, "DC09": 210, "DC10": 52000, "DC11": 75000, "DC12": 95.0,
        "DC13": 3.0, "DC14": 486.5, "DC15": 100, "DC16": 100, "EV01": 100,
        "SC01": rng.randint(4, 10), "SC02": 305.0, "SC03": 36.0, "SC04": 99.95,
        "SC05": u(7.0, 9.5), "SC06": rng.randint(380, 650), "SC07": 100,
    }
    return q(table[ind.code], places_of(ind))


def build_targets(rng: random.Random) -> list[Target]:
    targets: list[Target] = []
    for code, _name, _level, gdp in COUNTIES:
        for ind in COUNTY_INDICATORS:
            annual = county_annual(rng, ind, gdp, code)
            t = Target(code, ind, annual, finish=rng.uniform(0.97, 1.12), curve=rng.uniform(1.0, 1.18))
            if ind.code == "CK01":
                key = (Decimal("0.18"), Decimal("0.45"), Decimal("0.72"), Decimal(1))
                t.milestones = {m: q(annual * s, 2) for m, s in zip(QUARTER_ENDS, key, strict=True)}
            elif ind.code == "CK06":
                renovation = (Decimal("0.3"), Decimal("0.7"), Decimal(1))
                t.milestones = {m: q(annual * s, 0) for m, s in zip((6, 9, 12), renovation, strict=True)}
            elif ind.series in ("rate", "level", "pm25", "count"):
                t.milestones = {m: annual for m in QUARTER_ENDS}
            targets.append(t)
    for code, _name in DEPARTMENTS:
        specific, co_units = DEPT_SPECIFIC.get(code, ("DC16", None))
        for ind_code in ("DK01", "DK02", "DC15", specific, "EV01"):
            ind = IND[ind_code]
            annual = dept_annual(rng, ind)
            t = Target(code, ind, annual, co_units=co_units if ind_code == specific else None,
                       finish=rng.uniform(0.97, 1.08), curve=rng.uniform(1.0, 1.12))
            if ind.series in ("rate", "level", "pm25", "count", "level_higher"):
                t.milestones = {m: annual for m in QUARTER_ENDS}
            targets.append(t)
    for code, _name in STATIONED:
        for ind_code in ("SC01", STATIONED_SPECIFIC.get(code, "SC07"), "EV01"):
            ind = IND[ind_code]
            annual = dept_annual(rng, ind)
            t = Target(code, ind, annual, finish=rng.uniform(0.98, 1.1), curve=rng.uniform(1.0, 1.1))
            if ind.series in ("rate", "level", "count", "level_higher"):
                t.milestones = {m: annual for m in QUARTER_ENDS}
            targets.append(t)
    return targets


PM25_SEASON = (1.62, 1.38, 1.12, 0.88, 0.78, 0.66, 0.6, 0.62, 0.74, 0.92, 1.18, 1.5)


def schedule_at(t: Target, month: int) -> Decimal:
    """Expected cumulative value at ``month``: pro-rata, or interpolated between milestones."""
    if t.milestones is None:
        return t.annual * month / 12
    points = sorted(t.milestones.items())
    prev_m, prev_v = 0, Decimal(0)
    for m, v in points:
        if month <= m:
            return prev_v + (v - prev_v) * (month - prev_m) / (m - prev_m)
        prev_m, prev_v = m, v
    return prev_v


def series(rng: random.Random, t: Target) -> dict[int, Decimal]:
    """The reported cumulative values by month (only 6 and 12 for scores)."""
    ind, p = t.ind, places_of(t.ind)
    out: dict[int, Decimal] = {}
    lag = LAG_CASES.get((t.unit, ind.code))
    if ind.series == "score":
        base = rng.uniform(82, 97)
        return {6: q(base - rng.uniform(0, 3), 1), 12: q(base, 1)}
    if ind.series == "rate":
        final = float(t.annual) * rng.uniform(0.86, 1.12)
        if ind.code == "DC12":
            final = min(100.0, float(t.annual) * rng.uniform(0.98, 1.04))
        for m in MONTHS:
            drift = (12 - m) / 12 * rng.uniform(-0.6, 0.6) * float(t.annual) * 0.25
            out[m] = q(max(0.0, final + drift), p)
        return out
    if ind.series in ("level", "level_higher"):
        final = float(t.annual) * (rng.uniform(0.9, 1.06) if ind.series == "level"
                                   else rng.uniform(0.999, 1.001))
        low, high = (-0.03, 0.05) if ind.series == "level" else (-0.0008, 0.0002)
        for m in MONTHS:
            raw = final * (1 + (12 - m) / 12 * rng.uniform(low, high))
            out[m] = q(min(raw, 100.0) if ind.measure == "%" else raw, p)
        return out
    if ind.series == "pm25":
        level = float(t.annual) * rng.uniform(0.9, 1.05)
        if t.unit == "C08":
            level = float(t.annual) * 1.12  # 新港区 misses its PM2.5 target
        monthly = [level * s * rng.uniform(0.95, 1.05) for s in PM25_SEASON]
        for m in MONTHS:
            out[m] = q(sum(monthly[:m]) / m, p)
        return out
    if ind.series == "count":
        total = deaths_or_petitions(t, rng)
        months = sorted(rng.randint(1, 12) for _ in range(total))
        for m in MONTHS:
            out[m] = Decimal(sum(1 for x in months if x <= m))
        if t.unit == "C07" and ind.code == "CQ16":  # 1 death in March, 3 in the August explosion
            out = {m: Decimal((1 if m >= 3 else 0) + (3 if m >= 8 else 0)) for m in MONTHS}
        return out
    # amount and milestones: cumulative towards the annual value
    prev = Decimal(0)
    for m in MONTHS:
        sched = schedule_at(t, m)
        if lag is not None:
            value = q(sched * Decimal(str(lag[m - 1])), p)
        else:
            # On or a little off the schedule; only the LAG_CASES fall clearly behind.
            frac = max(0.86, (m / 12) ** t.curve * t.finish / (m / 12) * rng.uniform(0.98, 1.02))
            value = sched * Decimal(str(frac))
            # Whole counts (tasks, projects) are done in whole steps: round up.
            value = value.to_integral_value(rounding=ROUND_CEILING) if p == 0 else q(value, p)
        if t.ind.measure == "项":  # assigned tasks: cannot do more than were assigned
            value = min(value, t.annual - (1 if (t.unit, ind.code) in UNFINISHED else 0))
        value = max(value, prev)
        out[m] = value
        prev = value
    return out


def deaths_or_petitions(t: Target, rng: random.Random) -> int:
    if t.ind.code == "CO01":
        return {"C02": 4, "C05": 2}.get(t.unit, rng.randint(0, int(t.annual)))
    if t.ind.code == "DC07":
        return 14
    return rng.randint(0, max(0, int(t.annual) - 1))


# ---------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------

EVENT_COLUMNS = ("code", "unit", "kind", "type", "level", "title", "awarding_body", "document_no",
                 "document_date", "occurred_on", "work_year", "dedupe_key", "quantity", "indicator",
                 "evidence", "verified_quantity", "verified_by", "verification_note")


def ev(code: str, unit: str, kind: str, type_: str, level: str | None, title: str,
       body: str | None = None, doc: str | None = None, doc_date: date | None = None,
       occurred: date | None = None, work_year: int = YEAR, dedupe: str | None = None,
       quantity: str | None = None, indicator: str | None = None, evidence: str | None = None,
       verified: str | None = None, verified_by: str | None = None,
       note: str | None = None) -> dict[str, Value]:
    return dict(zip(EVENT_COLUMNS, (code, unit, kind, type_, level, title, body, doc, doc_date,
                                    occurred, work_year, dedupe, quantity, indicator, evidence,
                                    verified, verified_by, note), strict=True))


def honours() -> list[dict[str, Value]]:
    h = "honour"
    return [
        ev("HON-01", "C05", h, "honour", "national", "全国文明城区", "中央精神文明建设指导委员会",
           "文明委〔2024〕5号", date(2024, 11, 8), evidence="文件扫描件"),
        ev("HON-02", "C04", h, "honour", "provincial", "省级数字乡村试点县", "省委网信办 省农业农村厅",
           "省网信发〔2024〕21号", date(2024, 4, 16), dedupe="C04-数字乡村试点"),
        ev("HON-03", "C04", h, "honour", "national", "国家数字乡村试点地区", "中央网信办等七部门",
           "网信办发〔2024〕9号", date(2024, 9, 20), dedupe="C04-数字乡村试点"),
        ev("HON-04", "C06", h, "honour", "provincial", "省级生态文明建设示范区", "省生态环境厅",
           "省环发〔2024〕3号", date(2024, 1, 18), work_year=2023,
           evidence="2023年度工作，2024年1月发文，未在2023年度计分"),
        ev("HON-05", "D09", h, "honour", "municipal", "全市教育宣传工作优秀组织奖", "市委宣传部",
           None, None, evidence="奖牌照片（无发文）"),
        ev("HON-06", "C01", h, "experience_promoted", "provincial",
           "青溪县“一件事一次办”改革经验在全省推广", "省人民政府办公厅", "省政务简报〔2024〕38期",
           date(2024, 7, 3)),
        ev("HON-07", "C08", h, "ranking", "provincial", "全省港口货物吞吐量增速第2名", "省交通运输厅",
           "省交函〔2024〕112号", date(2024, 12, 20)),
        ev("HON-08", "D02", h, "honour", "provincial", "全省财政管理工作绩效评价优秀", "省财政厅",
           "省财预〔2024〕45号", date(2024, 6, 12)),
        ev("HON-09", "D03", h, "honour", "national", "全国统计系统先进集体", "国家统计局 人力资源社会保障部",
           "国统字〔2024〕30号", date(2024, 10, 9)),
        ev("HON-10", "S01", h, "honour", "municipal", "服务地方经济发展先进单位", "江澄市人民政府",
           "江政发〔2024〕18号", date(2024, 3, 1)),
        ev("HON-11", "C02", h, "honour", "municipal", "全市项目建设“红旗单位”", "中共江澄市委 江澄市人民政府",
           "江发〔2024〕7号", date(2024, 2, 26)),
        ev("HON-12", "D06", h, "honour", "provincial", "全省安全生产工作先进单位", "省安全生产委员会",
           "省安委〔2024〕4号", date(2024, 3, 15)),
        ev("HON-13", "C09", h, "honour", "national", "国家级服务业标准化试点", "国家标准化管理委员会",
           "国标委发〔2024〕22号", date(2024, 8, 5)),
        ev("HON-14", "S03", h, "honour", "provincial", "全省优化营商环境“获得电力”先进单位",
           "省发展和改革委员会", "省发改能源〔2024〕260号", date(2024, 9, 11)),
        ev("HON-15", "C05", h, "honour", "national", "国家级夜间文化和旅游消费集聚区", "文化和旅游部",
           "文旅资源发〔2024〕13号", date(2024, 4, 2)),
        ev("HON-16", "C05", h, "honour", "provincial", "省级现代服务业集聚示范区", "省发展和改革委员会",
           "省发改服务〔2024〕118号", date(2024, 5, 20)),
        ev("HON-17", "C05", h, "experience_promoted", "provincial", "澄江区“一网统管”经验在全省推广",
           "省委办公厅", "省委信息〔2024〕第56期", date(2024, 10, 15)),
        ev("HON-18", "C03", h, "honour", "provincial", "省级农产品质量安全县", "省农业农村厅",
           "省农质发〔2024〕9号", date(2025, 1, 15),
           evidence="2024年度工作，截止日后发文：计入2025年度（结转）"),
    ]


def incidents() -> list[dict[str, Value]]:
    i = "incident"
    return [
        ev("INC-01", "C07", i, "safety_accident", "municipal",
           "云台区某化工企业“8·14”较大爆炸事故（死亡3人）",
           "江澄市安全生产委员会办公室", "江安委办〔2024〕31号", date(2024, 8, 20),
           occurred=date(2024, 8, 14), quantity="3", indicator="CQ16", evidence="事故调查报告"),
        ev("INC-02", "C08", i, "environmental_incident", "provincial",
           "新港区化工园区“5·22”较大突发环境事件", "省生态环境厅", "省环通〔2024〕27号",
           date(2024, 6, 3), occurred=date(2024, 5, 22), quantity="1", indicator="CQ12"),
        ev("INC-03", "C07", i, "safety_accident", "county", "云台区“3·09”一般生产安全事故（死亡1人）",
           "云台区安全生产委员会", "云安委〔2024〕6号", date(2024, 3, 18), occurred=date(2024, 3, 9),
           quantity="1", indicator="CQ16"),
        ev("INC-04", "C06", i, "criticism", "municipal", "大气污染防治督查整改不力", "江澄市人民政府办公室",
           "江政办通〔2024〕9号", date(2024, 4, 11)),
        ev("INC-05", "C08", i, "criticism", "municipal", "中央生态环境保护督察反馈问题整改滞后",
           "中共江澄市委办公室", "江办通〔2024〕14号", date(2024, 7, 22)),
        ev("INC-06", "C03", i, "criticism", "provincial", "违法占用耕地问题突出", "省自然资源厅",
           "省自然资通〔2024〕33号", date(2024, 9, 5)),
        ev("INC-07", "S14", i, "criticism", "county", "青溪县5G基站建设进度滞后", "青溪县人民政府",
           "青政通〔2024〕3号", date(2024, 6, 28)),
        ev("INC-08", "D24", i, "criticism", "municipal", "城市道路占道经营整治不力", "江澄市人民政府",
           "江政通〔2024〕11号", date(2024, 8, 30)),
        ev("INC-09", "C09", i, "media_exposure", "national", "南湖区老旧小区改造质量问题被《焦点访谈》曝光",
           "中央广播电视总台", None, None, occurred=date(2024, 10, 17), indicator="CK06"),
        ev("INC-10", "D23", i, "media_exposure", "provincial", "省电视台《问政》曝光校园周边食品安全监管问题",
           "省广播电视台", None, None, occurred=date(2024, 5, 9)),
        ev("INC-11", "D35", i, "late_report", "municipal", "粮食安全责任制考核材料逾期报送", OFFICE,
           "江考办通〔2024〕2号", date(2024, 7, 10), quantity="2"),
        ev("INC-12", "C04", i, "late_report", "municipal", "一季度重点项目进度逾期报送", OFFICE,
           "江考办通〔2024〕1号", date(2024, 4, 12), quantity="1", indicator="CK01"),
        ev("INC-13", "D40", i, "false_report", "municipal", "虚报实际使用外资到账金额", OFFICE,
           "江考办通〔2024〕5号", date(2024, 12, 26), quantity="1", indicator="DC04"),
        ev("INC-14", "C02", i, "petition", "national", "群众赴京越级上访", "国家信访局", None, None,
           occurred=date(2024, 3, 5), quantity="1", indicator="CO01"),
        ev("INC-15", "C02", i, "petition", "provincial", "群众赴省集体上访", "省信访局", None, None,
           occurred=date(2024, 6, 18), quantity="3", indicator="CO01"),
        ev("INC-16", "C05", i, "petition", "municipal", "征收补偿信访事项到市上访", "市信访局", None, None,
           occurred=date(2024, 9, 2), quantity="6"),
        ev("INC-17", "C01", i, "petition", "county", "土地流转纠纷到县上访", "青溪县信访局", None, None,
           occurred=date(2024, 11, 4), quantity="4"),
        ev("INC-18", "D15", i, "petition", "provincial", "商品房逾期交付群众赴省上访", "省信访局", None, None,
           occurred=date(2024, 8, 8), quantity="2"),
    ]


# (unit, title, claimed 万元, verified 万元 or None when confirmed in full, note)
PROJECT_CLAIMS: tuple[tuple[str, str, int, int | None, str], ...] = (
    ("C01", "青溪县年产5万吨食品级纸浆模塑项目", 28000, 0, "仅签约未开工，不符合新开工口径"),
    ("C01", "青溪县新能源电池壳体生产线项目", 15600, None, "核实无误"),
    ("C02", "白沙县农产品冷链物流园项目", 21000, 0, "属物流仓储项目，非工业项目"),
    ("C02", "白沙县特种纸技术改造项目", 8600, 860, "实际投资不足1000万元以上口径（核定860万元）"),
    ("C03", "梅岭县中药饮片精深加工项目", 13200, None, "核实无误"),
    ("C03", "梅岭县竹木制品产业园一期", 32000, 12500, "部分厂房为2023年开工，核减已计入上年投资"),
    ("C04", "安丰县智能农机装备制造项目", 41000, 0, "2023年度已申报认定，重复申报"),
    ("C04", "安丰县饲料加工扩建项目", 11800, 0, "未纳入固定资产投资统计库"),
    ("C05", "澄江区集成电路封装测试项目", 86000, None, "核实无误"),
    ("C05", "澄江区科创大厦项目", 52000, 0, "商务楼宇项目，非工业项目"),
    ("C06", "江北区汽车零部件智能工厂", 64500, None, "核实无误"),
    ("C06", "江北区生物医药中试基地", 23000, 9800, "设备购置发票不足，按已核实投资认定"),
    ("C07", "云台区精细化工新材料项目", 37000, 0, "因“8·14”事故停工，未实质开工建设"),
    ("C07", "云台区光伏组件边框项目", 12600, 720, "实际完成投资720万元，低于1000万元口径"),
    ("C08", "新港区船舶配套产业园项目", 58000, None, "核实无误"),
    ("C08", "新港区保税仓储扩建项目", 19500, 0, "仓储项目，非工业项目"),
    ("C09", "南湖区数字创意产业园项目", 26000, 0, "文化产业园，非工业项目"),
    ("C09", "南湖区医疗器械产业化项目", 16800, 0, "项目注册地在云台区，属地不符"),
)


def project_claims(rng: random.Random) -> list[dict[str, Value]]:
    out: list[dict[str, Value]] = []
    for n, (unit, title, claimed, verified, note) in enumerate(PROJECT_CLAIMS, start=1):
        start = date(2024, rng.randint(2, 11), rng.randint(1, 28))
        out.append(ev(f"PRJ-{n:02d}", unit, "project_claim", "industrial_project", None, title,
                      occurred=start, quantity=str(claimed), indicator="CK03",
                      evidence=f"项目备案、施工许可及投资凭证（{unit}申报）",
                      verified=str(claimed if verified is None else verified), verified_by=VERIFIER,
                      note=note))
    return out


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def stable_xlsx(wb: Workbook) -> bytes:
    """The workbook's bytes with fixed docProps timestamps and zip member dates."""
    wb.properties.creator = OFFICE
    wb.properties.lastModifiedBy = OFFICE
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME  # openpyxl overwrites this on save: fixed below too
    raw = io.BytesIO()
    wb.save(raw)
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = data.decode("utf-8")
                text = re.sub(r"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                              rf"\g<1>{stamp}\g<2>", text)
                data = text.encode("utf-8")
            member = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o600 << 16
            dst.writestr(member, data)
    return out.getvalue()


def add_sheet(wb: Workbook, title: str, header: Sequence[str], rows: Iterable[Sequence[Value]]) -> None:
    ws = wb.create_sheet(title)
    ws.append(list(header))
    for row in rows:
        ws.append([as_cell(v) for v in row])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    ws.freeze_panes = "A2"
    for col, name in zip(ws.iter_cols(min_row=1, max_row=1), header, strict=True):
        ws.column_dimensions[col[0].column_letter].width = max(10, min(40, len(name) * 2 + 4))


def scheme_workbook() -> bytes:
    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    add_sheet(wb, "scheme", list(SCHEME_ROW), [list(SCHEME_ROW.values())])
    add_sheet(wb, "categories",
              ["scheme", "code", "name_zh", "name_en", "excellent_min", "good_min", "fair_min",
               "excellent_quota"],
              [[SCHEME, c, zh, en, Decimal(e), Decimal(g), Decimal(f), quota]
               for c, zh, en, e, g, f, quota in CATEGORIES])
    add_sheet(wb, "sections", ["scheme", "category", "code", "name_zh", "name_en", "weight"],
              [[SCHEME, cat, code, zh, en, Decimal(w)] for cat, code, zh, en, w in SECTIONS])
    units: list[list[Value]] = [[SCHEME, c, n, level, "county", None] for c, n, level, _ in COUNTIES]
    units += [[SCHEME, c, n, "department", "department", None] for c, n in DEPARTMENTS]
    units += [[SCHEME, c, n, "stationed", "stationed", None] for c, n in STATIONED]
    add_sheet(wb, "units", ["scheme", "code", "name", "level", "category", "parent"], units)
    add_sheet(wb, "indicators",
              ["scheme", "code", "name_zh", "name_en", "section", "measure", "direction", "method",
               "points", "params", "source_department"],
              [[SCHEME, i.code, i.name_zh, i.name_en, i.section, i.measure, i.direction, i.method,
                Decimal(i.points), json.dumps(i.params, ensure_ascii=False, sort_keys=True) if i.params
                else None, i.source] for i in INDICATORS])
    return stable_xlsx(wb)


def targets_workbook(targets: list[Target]) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    header = ["方案代码", "单位代码", "指标代码", "年度目标值", "序时方式", "节点目标", "牵头单位代码",
              "协办单位", "已锁定"]
    rows: list[list[Value]] = []
    for t in targets:
        rows.append([SCHEME, t.unit, t.ind.code, t.annual,
                     "milestones" if t.milestones else "pro_rata",
                     milestone_text(t.milestones) if t.milestones else None,
                     t.unit if t.co_units else None, t.co_units, "是"])
    add_sheet(wb, "targets", header, rows)
    return stable_xlsx(wb)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Value]]) -> str:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([as_text(v) for v in row])
    return buf.getvalue()


def progress_rows(rng: random.Random, targets: list[Target]) -> list[list[Value]]:
    rows: list[list[Value]] = []
    for t in targets:
        values = series(rng, t)
        for m, value in sorted(values.items()):
            period = f"{YEAR}-{m:02d}"
            sub_y, sub_m = (YEAR + 1, 1) if m == 12 else (YEAR, m + 1)
            submitted = f"{sub_y}-{sub_m:02d}-{rng.randint(3, 8):02d} {rng.randint(8, 17):02d}:" \
                        f"{rng.choice((0, 15, 30, 45)):02d}:00"
            source: Value = None
            if t.ind.series == "score":
                source = t.ind.source
            evidence: Value = None
            if t.ind.code in ("CK01", "CK06") and m in QUARTER_ENDS:
                evidence = f"{t.ind.code}-{t.unit}-{period} 项目形象进度照片及投资台账"
            verified_value: Value = None
            verified_by: Value = None
            fix = VERIFIED.get((t.unit, t.ind.code, m))
            if fix is not None:
                verified_value = value - Decimal(fix[0])
                verified_by = VERIFIER
                evidence = f"核查意见：{fix[1]}"
            rows.append([SCHEME, t.unit, t.ind.code, period, value, source, submitted, evidence,
                         verified_value, verified_by])
            if t.ind.code == "CQ01" and m in QUARTER_ENDS:
                # 市统计局's authoritative figure beside the county's own monthly estimate.
                official = q(value + Decimal(str(rng.uniform(-0.4, 0.2))), 1)
                rows.append([SCHEME, t.unit, t.ind.code, period, official, STATS,
                             f"{sub_y}-{sub_m:02d}-{rng.randint(15, 20):02d} 10:00:00",
                             f"市统计局季度核算（{period}）", None, None])
    return rows


PROGRESS_HEADER = ("方案代码", "单位代码", "指标代码", "报送期", "累计完成值", "报送来源", "报送时间",
                   "佐证材料", "核定值", "核定人")
EVENTS_HEADER = ("方案代码", "事项编号", "单位代码", "类型", "细类", "级别", "标题", "授予/通报机关",
                 "文号", "发文日期", "发生日期", "工作年度", "去重键", "数量", "指标代码", "佐证材料",
                 "核定数量", "核定人", "核定说明")


def generate(out: Path) -> list[Path]:
    """Write the demo files into ``out``; return their paths in import order."""
    rng = random.Random(SEED)
    out.mkdir(parents=True, exist_ok=True)
    targets = build_targets(rng)
    progress = progress_rows(rng, targets)
    events = honours() + incidents() + project_claims(rng)
    files = {
        "scheme.xlsx": scheme_workbook(),
        "targets.xlsx": targets_workbook(targets),
        "progress.csv": csv_text(PROGRESS_HEADER, progress).encode("gb18030"),
        "events.csv": csv_text(EVENTS_HEADER, [[SCHEME, *e.values()] for e in events])
        .encode("utf-8-sig"),
    }
    paths = []
    for name, data in files.items():
        path = out / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "city",
                        help="directory to write into (default: demo/city)")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path)


if __name__ == "__main__":
    main()
