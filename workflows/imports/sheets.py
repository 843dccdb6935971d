"""The import format: which sheets (kinds) exist and the columns of each.

This table is the single source for the importer's header recognition and validation, for the
template workbook (`kaohe template`) and for docs/import-format.md. A header cell may hold the
column's English name or its Chinese label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["text", "int", "decimal", "date", "datetime", "bool", "json", "choice"]


@dataclass(frozen=True)
class Column:
    name: str
    label_zh: str
    type: ColumnType
    required: bool
    doc: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class SheetSpec:
    kind: str
    label_zh: str
    doc: str
    columns: tuple[Column, ...]

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


def _c(name: str, zh: str, type_: ColumnType, required: bool, doc: str,
       choices: tuple[str, ...] = ()) -> Column:
    return Column(name, zh, type_, required, doc, choices)


SCHEME_COL = _c("scheme", "方案代码", "text", True, "Code of the scheme the row belongs to.")

SHEETS: tuple[SheetSpec, ...] = (
    SheetSpec("scheme", "考核方案", "One row per scheme (a year's assessment method).", (
        _c("code", "方案代码", "text", True, "Unique scheme code, e.g. DEMO-2024."),
        _c("year", "年度", "int", True, "Assessment year, 2000–2100."),
        _c("name", "方案名称", "text", True, "Title of the method."),
        _c("cutoff_date", "截止日期", "date", True,
           "Cut-off for the work year: an honour documented by it counts this year; one documented "
           "later carries over to next year's run (if documented by next year's cut-off), once."),
        _c("previous_cutoff_date", "上年度截止日期", "date", False,
           "The previous year's cut-off, which decides what carries over into this year. Needed only "
           "when the previous year's scheme is not in the database (when it is, its cut-off decides "
           "and this must be empty or equal to it) and an event of last year's work has a document "
           "date: a run never guesses it."),
        _c("adjustment_cutoff_date", "调整截止日期", "date", False,
           "Last day a target adjustment may be requested."),
        _c("publication_days", "公示天数", "int", True, "Days results stay published (公示)."),
        _c("appeal_days", "申诉天数", "int", True, "Days a unit may appeal after publication."),
    )),
    SheetSpec("categories", "考核类别", "Categories of units ranked together.", (
        SCHEME_COL,
        _c("code", "类别代码", "text", True, "Category code, unique in the scheme."),
        _c("name_zh", "类别名称", "text", True, "Chinese name."),
        _c("name_en", "英文名称", "text", True, "English name."),
        _c("excellent_min", "优秀分数线", "decimal", False, "Lowest total for 优秀."),
        _c("good_min", "良好分数线", "decimal", False, "Lowest total for 良好."),
        _c("fair_min", "一般分数线", "decimal", False, "Lowest total for 一般; below is 较差."),
        _c("excellent_quota", "优秀名额", "text", False,
           "Most 优秀 slots: a count (3) or a percentage of the category (20%)."),
    )),
    SheetSpec("sections", "考核板块", "Weighted sections of each category; weights sum to 100.", (
        SCHEME_COL,
        _c("category", "类别代码", "text", True, "Category code."),
        _c("code", "板块代码", "text", True, "Section code, e.g. key_work, quantitative, other."),
        _c("name_zh", "板块名称", "text", True, "Chinese name, e.g. 重点工作."),
        _c("name_en", "英文名称", "text", True, "English name."),
        _c("weight", "权重", "decimal", True, "Weight in points; a category's weights sum to 100."),
    )),
    SheetSpec("units", "考核对象", "Assessed units.", (
        SCHEME_COL,
        _c("code", "单位代码", "text", True, "Unit code, unique in the scheme."),
        _c("name", "单位名称", "text", True, "Unit name."),
        _c("level", "层级", "choice", True, "Kind of unit.",
           ("county", "district", "township", "street", "department", "stationed")),
        _c("category", "类别代码", "text", False, "Category code; empty for units not ranked."),
        _c("parent", "上级单位代码", "text", False, "Parent unit's code (county → township)."),
    )),
    SheetSpec("indicators", "考核指标", "Indicators and how each is scored.", (
        SCHEME_COL,
        _c("code", "指标代码", "text", True, "Indicator code, unique in the scheme."),
        _c("name_zh", "指标名称", "text", True, "Chinese name."),
        _c("name_en", "英文名称", "text", True, "English name."),
        _c("section", "板块代码", "text", True, "Section code it scores into."),
        _c("measure", "计量单位", "text", True, "Unit of measure: %, 亿元, 人 …"),
        _c("direction", "方向", "choice", True, "Which way is better.",
           ("higher", "lower", "control_line")),
        _c("method", "计分方法", "choice", True, "Scoring method.",
           ("pass_fail", "proportional", "step", "ranking_decay", "ranking_table",
            "lower_better", "control_line", "rubric")),
        _c("points", "分值", "decimal", True, "Full points of the indicator."),
        _c("params", "计分参数", "json", False, "Method parameters as a JSON object."),
        _c("source_department", "数据来源部门", "text", False,
           "Authoritative source, e.g. 市统计局."),
    )),
    SheetSpec("targets", "目标任务", "Annual targets per unit and indicator.", (
        SCHEME_COL,
        _c("unit", "单位代码", "text", True, "Assessed unit's code."),
        _c("indicator", "指标代码", "text", True, "Indicator code."),
        _c("annual_value", "年度目标值", "decimal", True, "Annual target value."),
        _c("schedule", "序时方式", "choice", False, "pro_rata (default) or milestones.",
           ("pro_rata", "milestones")),
        _c("milestones", "节点目标", "text", False,
           "For milestones: MM=value pairs, cumulative, e.g. 03=20;06=45;09=70;12=100."),
        _c("lead_unit", "牵头单位代码", "text", False, "Lead unit (承办); defaults to the unit."),
        _c("co_units", "协办单位", "text", False,
           "Co-units (协办) as code or code:share, separated by ;, e.g. D07:0.3;D09."),
        _c("locked", "已锁定", "bool", False, "yes/no (是/否): a locked target takes no new value."),
    )),
    SheetSpec("progress", "进度报送", "Cumulative progress per target and month.", (
        SCHEME_COL,
        _c("unit", "单位代码", "text", True, "Assessed unit's code."),
        _c("indicator", "指标代码", "text", True, "Indicator code."),
        _c("period", "报送期", "text", True, "Month YYYY-MM inside the scheme year."),
        _c("value", "累计完成值", "decimal", True, "Reported cumulative value."),
        _c("source", "报送来源", "text", False, "Reporting unit code or department; default the unit."),
        _c("submitted_at", "报送时间", "datetime", False, "When it was submitted (UTC+8 if naive)."),
        _c("evidence", "佐证材料", "text", False, "Evidence reference."),
        _c("verified_value", "核定值", "decimal", False, "Value after the office's verification."),
        _c("verified_by", "核定人", "text", False, "Who verified; required with verified_value."),
    )),
    SheetSpec("events", "加减分事项", "Honours, incidents and project claims.", (
        SCHEME_COL,
        _c("code", "事项编号", "text", True, "Event code, unique in the scheme."),
        _c("unit", "单位代码", "text", True, "Unit the event is credited or charged to."),
        _c("kind", "类型", "choice", True, "Kind of event.",
           ("honour", "incident", "project_claim")),
        _c("type", "细类", "text", True,
           "Finer type: honour, experience_promoted, ranking, safety_accident, "
           "environmental_incident, criticism, media_exposure, late_report, false_report, "
           "petition, industrial_project …"),
        _c("level", "级别", "choice", False, "Level of the awarding or issuing body.",
           ("national", "provincial", "municipal", "county")),
        _c("title", "标题", "text", True, "Title of the honour, incident or project."),
        _c("awarding_body", "授予/通报机关", "text", False, "Awarding or issuing body."),
        _c("document_no", "文号", "text", False, "Document number; an honour without one earns nothing."),
        _c("document_date", "发文日期", "date", False, "Date of the document."),
        _c("occurred_on", "发生日期", "date", False, "Date the incident happened."),
        _c("work_year", "工作年度", "int", True, "Year the work was done."),
        _c("dedupe_key", "去重键", "text", False,
           "Same key = same honour, counted once at its highest level."),
        _c("quantity", "数量", "decimal", False, "Deaths, amount (万元), count of petitions …"),
        _c("indicator", "指标代码", "text", False, "Indicator the event relates to."),
        _c("evidence", "佐证材料", "text", False, "Evidence reference."),
        _c("verified_quantity", "核定数量", "decimal", False, "Quantity after verification (核减)."),
        _c("verified_by", "核定人", "text", False, "Who verified."),
        _c("verification_note", "核定说明", "text", False, "Why the claim was cut."),
    )),
)

SHEETS_BY_KIND: dict[str, SheetSpec] = {s.kind: s for s in SHEETS}
# Import order: a workbook's sheets load in this order so references resolve.
KIND_ORDER: tuple[str, ...] = tuple(s.kind for s in SHEETS)
