"""The MMFI ``Ipf_Job_Order`` dialect: strict and lenient reads, the published MAJA example, validation."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jobs_support import NOISE_GIPP, Env

from viq_host.jobs.mmfi import format_ipf_date, gipp_type_from_name, parse_ipf_date
from viq_host.jobs.reader import JobOrderDeviation, read_job_order, read_job_order_report
from viq_host.jobs.validate import validate_job_order
from viq_host.plugins import Plugins
from viq_interfaces.errors import InvalidJobOrder
from viq_interfaces.exitcodes import ExitCode

MAX = 1_048_576
REFERENCE = Path(__file__).resolve().parents[4] / "shared" / "reference" / "job-orders" / "maja"
EXAMPLE = REFERENCE / "Ipf_Job_Order_example.xml"
AS_PUBLISHED = REFERENCE / "Ipf_Job_Order_example_as_published.xml"

needs_reference = pytest.mark.skipif(not EXAMPLE.is_file(), reason="../shared/reference not available")


def _conforming(dark_count: str = "2", procs_count: str = "1") -> str:
    """An Ipf_Job_Order for calib-dark that is valid against VenusJobOrder.xsd."""
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<Ipf_Job_Order>
<Ipf_Conf>
<Processor_Name>calib-dark</Processor_Name>
<Version>01.00</Version>
<Order_Type>CAL</Order_Type>
<Production_Request_Id/>
<Stdout_Log_Level>PROGRESS</Stdout_Log_Level>
<Stderr_Log_Level>ERROR</Stderr_Log_Level>
<Test>true</Test>
<Breakpoint_Enable>false</Breakpoint_Enable>
<Acquisition_Station>KIRUNA</Acquisition_Station>
<Processing_Station>TLS</Processing_Station>
<Config_Files/>
<Sensing_Time>
<Start>20261120_101500250000</Start>
<Stop>20261120_103000000000</Stop>
</Sensing_Time>
<List_of_GIPP_Files count="1">
<GIPP_File>../gipp/{NOISE_GIPP}</GIPP_File>
</List_of_GIPP_Files>
</Ipf_Conf>
<List_of_Ipf_Procs count="{procs_count}">
<Ipf_Proc>
<Task_Name>calib-dark</Task_Name>
<Task_Version>01.00</Task_Version>
<Breakpoint>
<List_of_Brk_Files count="0"/>
</Breakpoint>
<List_of_Inputs count="1">
<Input>
<File_Type>VSC_L1DARK</File_Type>
<File_Name_Type>Physical</File_Name_Type>
<List_of_File_Names count="{dark_count}">
<File_Name>../in/dark1.tif</File_Name>
<File_Name>../in/dark2.tif</File_Name>
</List_of_File_Names>
<List_of_Time_Intervals count="1">
<Time_Interval>
<Start>20261120_101500000000</Start>
<Stop>20261120_103000000000</Stop>
<File_Name>../in/dark1.tif</File_Name>
</Time_Interval>
</List_of_Time_Intervals>
</Input>
</List_of_Inputs>
<List_of_Outputs count="1">
<Output>
<File_Type>GIP_DARKCU</File_Type>
<File_Name_Type>Directory</File_Name_Type>
<File_Name>./output/</File_Name>
</Output>
</List_of_Outputs>
</Ipf_Proc>
</List_of_Ipf_Procs>
<Processor_Conf>
<File_Name/>
</Processor_Conf>
<Parameter_File>
<File_Name/>
</Parameter_File>
<List_of_Attachments count="0"/>
</Ipf_Job_Order>
"""


def test_ipf_date_and_gipp_names() -> None:
    """Ipf_Date is YYYYMMDD_hhmmss + microseconds; GIPP types come from VENµS file names."""
    value = parse_ipf_date("20000101_123456000042")
    assert value == datetime(2000, 1, 1, 12, 34, 56, 42, tzinfo=UTC)
    assert format_ipf_date(value) == "20000101_123456000042"
    for bad in ("", "2000-01-01", "20000101_1234560000"):
        with pytest.raises(ValueError, match="Ipf_Date"):
            parse_ipf_date(bad)
    assert gipp_type_from_name("./VE_TEST_GIP_CKEXTL_S_SUDOUEST_00001_00000000_99999999.EEF") == "GIP_CKEXTL"
    assert gipp_type_from_name("F2_TEST_GIP_L2DIRT_L_CONTINEN_00001_00000000_99999999.DBL") == "GIP_L2DIRT"
    assert gipp_type_from_name("Sudouest_20060317_MS_fmsat_ortho_toa.hdr") is None


def test_conforming_order_reads_strictly_and_validates(env: Env, plugins: Plugins) -> None:
    """A schema-valid Ipf_Job_Order is read strictly; ports are matched by File_Type, GIPPs by file name."""
    path = env.orders / "ipf.xml"
    path.write_text(_conforming(), encoding="iso-8859-1")
    order = read_job_order(path, max_bytes=MAX)
    assert order.dialect == "mmfi" and order.file_class == "TEST"
    assert order.sensing_start == datetime(2026, 11, 20, 10, 15, 0, 250000, tzinfo=UTC)
    assert order.log_levels == ("ERROR", "WARNING", "PROGRESS")
    v = validate_job_order(order, plugins, env.settings)
    assert [p.path for p in v.inputs["dark"]] == [env.data / "in" / "dark1.tif", env.data / "in" / "dark2.tif"]
    assert v.gipps["GIP_NOISMO"][0].version == 7
    assert v.params == plugins.processors.get("calib-dark").Parameters()


def test_count_attribute_disagreeing_with_its_list(env: Env) -> None:
    """count="3" over two File_Name elements is refused strictly at that line, tolerated leniently."""
    path = env.orders / "ipf.xml"
    text = _conforming(dark_count="3")
    path.write_text(text, encoding="iso-8859-1")
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if 'List_of_File_Names count="3"' in t)
    with pytest.raises(InvalidJobOrder, match="count='3' but the list holds 2 File_Name") as info:
        read_job_order(path, max_bytes=MAX)
    assert info.value.line == line and info.value.exit_code == ExitCode.JOB_ORDER_ERROR
    report = read_job_order_report(path, max_bytes=MAX, lenient=True)
    assert [d.line for d in report.deviations] == [line]


def test_unknown_file_type_in_mmfi_order(env: Env, plugins: Plugins) -> None:
    """An MMFI input whose File_Type no port accepts is refused naming the type and the Input's line."""
    path = env.orders / "ipf.xml"
    text = _conforming().replace("<File_Type>VSC_L1DARK</File_Type>", "<File_Type>VSC_L1VALD</File_Type>")
    path.write_text(text, encoding="iso-8859-1")
    with pytest.raises(InvalidJobOrder, match="File_Type VSC_L1VALD is not an input") as info:
        validate_job_order(read_job_order(path, max_bytes=MAX), plugins, env.settings)
    assert info.value.line == next(i for i, t in enumerate(text.splitlines(), start=1) if t == "<Input>")


def _readme_facts() -> tuple[int, int]:
    """From the reference README: lists missing count, and empty Time_Interval Start/Stop values."""
    readme = (REFERENCE.parent / "README.md").read_text()
    missing = re.search(r"`count` attributes are missing on ([^;]+);", readme)
    empties = re.search(r"(\d+) empty `Time_Interval/Start\|Stop` values", readme)
    assert missing and empties
    return len(re.findall(r"`List_of_\w+`", missing.group(1))), int(empties.group(1))


@needs_reference
def test_published_example_read_leniently_lists_each_deviation(env: Env) -> None:
    """The MAJA example reads leniently; each deviation the reference README documents is listed with its line."""
    missing_counts, empty_dates = _readme_facts()
    with pytest.warns(JobOrderDeviation) as record:
        order = read_job_order(EXAMPLE, max_bytes=MAX, lenient=True)
    report = read_job_order_report(EXAMPLE, max_bytes=MAX, lenient=True)
    assert len(record) == len(report.deviations) == 1 + missing_counts + empty_dates
    lines = EXAMPLE.read_bytes().decode("iso-8859-1").splitlines()
    count_issues = [d for d in report.deviations if "count" in d.reason]
    assert len(count_issues) == missing_counts
    for d in count_issues:
        assert d.line is not None and d.path.rsplit("/", 1)[-1] in lines[d.line - 1]
    date_issues = [d for d in report.deviations if "Time_Interval" in d.path]
    assert len(date_issues) == empty_dates
    for d in date_issues:
        assert d.line is not None and lines[d.line - 1].strip() in ("<Start/>", "<Stop/>")
    (ns_issue,) = [d for d in report.deviations if "2000/10/XMLSchema-instance" in d.reason]
    assert ns_issue.line is not None and "schemaLocation" in lines[ns_issue.line - 1]
    assert all(str(EXAMPLE) in str(w.message) for w in record)

    assert (order.processor, order.version, order.task) == ("MAJA_L2_INIT_CHAIN", "03.03", "L2_INIT_PROCESSING")
    assert order.sensing_start == datetime(2000, 1, 1, tzinfo=UTC)
    assert order.sensing_stop == datetime(2000, 1, 2, tzinfo=UTC)
    assert len(order.inputs) == 13 and len(order.outputs) == 5
    assert order.inputs[0].file_type == "FSC_L1VALD"
    assert order.inputs[1].file_names == ("./VE_TEST_GIP_CKEXTL_S_SUDOUEST_00001_00000000_99999999.EEF",)
    assert {o.directory for o in order.outputs} == {"./output/"}


@needs_reference
def test_published_example_is_rejected_strictly_with_line_numbers() -> None:
    """A strict read refuses the example at its first violation and names the following ones with lines."""
    with pytest.raises(InvalidJobOrder) as info:
        read_job_order(EXAMPLE, max_bytes=MAX)
    err = info.value
    assert err.exit_code == ExitCode.JOB_ORDER_ERROR and err.source == str(EXAMPLE)
    assert err.line == 4 and err.field == "/Ipf_Job_Order"
    assert "VenusJobOrder.xsd" in err.message
    assert "line 21: /Ipf_Job_Order/Ipf_Conf/List_of_GIPP_Files: missing required attribute 'count'" in err.message
    assert "line 24: /Ipf_Job_Order/List_of_Ipf_Procs" in err.message


@needs_reference
def test_example_as_published_is_not_well_formed() -> None:
    """The file as published has a stray closing tag on line 22: malformed, even leniently."""
    with pytest.raises(InvalidJobOrder, match="malformed XML") as info:
        read_job_order(AS_PUBLISHED, max_bytes=MAX, lenient=True)
    assert info.value.line == 22
