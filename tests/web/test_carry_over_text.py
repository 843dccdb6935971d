"""The refusals about last year's cut-off (结转) read in Chinese on pages, with their details."""

from __future__ import annotations

from flask import Flask

from web.domain_text import localized
from workflows.errors import Invalid

UNKNOWN = ("scheme T2013: 1 event(s) of work year 2012 with a document date (H-OLD (C01, 2013-01-08)) "
           "count in 2012 or carry over to 2013 depending on 2012's cut-off, and no scheme of 2012 is in "
           "the database: set the scheme's previous_cutoff_date (上年度截止日期) in its scheme sheet and "
           "import it again")
DIFFERS = ("scheme T2013: previous_cutoff_date 2012-12-31 is not the cut-off of 2012's scheme T2012 "
           "(2013-02-28); carry-over must follow the cut-off that year's run used: clear "
           "previous_cutoff_date or set it to that date")
SEVERAL = ("scheme T2013: the schemes of 2012 have different cut-offs, A (2012-12-31), B (2013-02-28); "
           "set the scheme's previous_cutoff_date (上年度截止日期) to the one that decides carry-over")


def test_the_refusals_about_last_years_cutoff_are_translated(shared_app: Flask) -> None:
    with shared_app.test_request_context("/"):
        assert localized(Invalid(UNKNOWN)) == (
            "方案 T2013：2012年度工作、有文件日期的事项 1 项（H-OLD (C01, 2013-01-08)），"
            "计入2012年度还是结转至2013年度取决于2012年度的截止日期，"
            "而数据库中没有2012年度的方案：请在方案表中填写上年度截止日期后重新导入。")
        assert localized(Invalid(DIFFERS)) == (
            "方案 T2013：上年度截止日期 2012-12-31 与2012年度方案 T2012 (2013-02-28) 的截止日期不一致；"
            "结转须依照该年度运算所用的截止日期：请清空上年度截止日期或改为该日期。")
        assert localized(Invalid(SEVERAL)) == (
            "方案 T2013：2012年度各方案的截止日期不一致（A (2012-12-31), B (2013-02-28)）；"
            "请将本方案的上年度截止日期设为决定结转的那一个。")
