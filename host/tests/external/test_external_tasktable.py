"""Reading task tables: declaration, generated parameter model, schema errors with file:line, registration."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from lxml import etree
from pydantic import ValidationError

import viq_ext_build
from viq_host.external import read_task_table
from viq_host.external.joborders import ipf_job_order_xml, order_for_run, parameter_file_xml
from viq_host.external.plugin import TaskTablePlugin
from viq_host.jobs import mmfi, xsd
from viq_host.jobs.tasktable import task_table_xml
from viq_host.plugins import PluginWarning, load_plugins
from viq_interfaces.context import GippInForce, InputProduct
from viq_interfaces.declaration import SelectionRule
from viq_interfaces.errors import ConfigurationError


def test_task_table_becomes_declaration_and_parameter_model(tmp_path: Path) -> None:
    """Ports, alternatives, resources, dialect and typed parameters (default, range, choices) are read."""
    path = viq_ext_build.write_shell_processor(tmp_path, dialect="Ipf_Job_Order", walltime="PT1H30M")
    table = read_task_table(path)
    decl = table.declaration
    assert decl.key == "t-shell@01.00"
    assert decl.inputs[0].product_types == ("VIQ_TSTDAT", "VIQ_TSTALT")
    assert decl.inputs[0].selection is SelectionRule.EXPLICIT and decl.inputs[0].mandatory
    assert decl.outputs[0].file_name_pattern == "sum_*.txt"
    assert decl.resources.walltime.total_seconds() == 5400
    assert table.dialect == "Ipf_Job_Order"
    assert table.executable_path() == tmp_path / "t_shell.sh"
    params = table.parameters()
    assert params.model_dump() == {"scale": 1.5, "mode": "ok"}
    assert table.parameters.model_validate({"scale": "2.5"}, strict=False).model_dump()["scale"] == 2.5
    with pytest.raises(ValidationError, match="greater than 0"):
        table.parameters(scale=0)
    with pytest.raises(ValidationError, match="mode must be one of"):
        table.parameters(mode="sideways")
    with pytest.raises(ValidationError, match="Extra inputs"):
        table.parameters(colour="red")


def test_export_of_an_external_processor_is_valid_and_round_trips(tmp_path: Path) -> None:
    """The adapter class exports a schema-valid task table carrying the same parameters and ports."""
    table = read_task_table(viq_ext_build.write_shell_processor(tmp_path))
    from viq_host.external import processor_class

    cls = processor_class(table)
    exported = task_table_xml(cls)
    tree = etree.ElementTree(etree.fromstring(exported))
    assert xsd.issues(tree, xsd.TASK_TABLE_XSD) == []
    names = [e.text for e in tree.iterfind(".//Proc_Parameter/Name")]
    assert names == ["scale", "mode"]
    allowed = [e.text for e in tree.iterfind(".//Proc_Parameter[Name='mode']/List_of_Allowed_Values/Value")]
    assert allowed == ["ok", "nolog", "garbage", "hang", "fail", "nooutput", "warn"]


def test_schema_violation_names_file_and_line(tmp_path: Path) -> None:
    """A task table breaking the XSD (bad walltime type, unknown dialect) is refused with file:line and the element."""
    path = viq_ext_build.write_shell_processor(tmp_path, dialect="Fancy_Order")
    text = path.read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(text, start=1) if "Job_Order_Dialect" in t)
    with pytest.raises(ConfigurationError) as info:
        read_task_table(path)
    assert f"{path}:{line}:" in str(info.value)
    assert "Job_Order_Dialect" in str(info.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("<Default>1.5</Default>", ""), "has no Default"),
        (lambda t: t.replace("<Executable>./t_shell.sh</Executable>", ""), "Executable is missing"),
        (lambda t: t.replace('<List_of_Inputs count="1">', '<List_of_Inputs count="2">'), "count=2"),
        (lambda t: t.replace("<Default>1.5</Default>", "<Default>-1</Default>"), "default is invalid"),
        (lambda t: t.replace("<Name>scale</Name>", "<Name>2scale</Name>"), "must be an identifier"),
        (lambda t: t.replace("<Walltime>PT60S", "<Walltime>P1Y"), "walltime"),
        (lambda t: t.replace("<Task_Table ", "<Job_Order ").replace("</Task_Table>", "</Job_Order>"), "not <Task_"),
        (lambda t: t.replace("</Description>", "", 1), "mismatch"),
    ],
)
def test_inconsistent_task_tables_are_refused_with_their_position(tmp_path: Path, edit: object, message: str) -> None:
    """Each defect is a ConfigurationError naming the file and what is wrong."""
    path = viq_ext_build.write_shell_processor(tmp_path)
    assert callable(edit)
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message) as info:
        read_task_table(path)
    assert str(path) in str(info.value)


def test_plugin_registers_good_tables_and_disables_bad_ones(tmp_path: Path) -> None:
    """One readable and one broken task table: the first is enabled, the second a disabled row with file:line."""
    viq_ext_build.write_shell_processor(tmp_path)
    bad = tmp_path / "broken.xml"
    bad.write_text("<Task_Table schemaName='VIQ-Task-Table' schemaVersion='1.0'><Processor_Name>x</Task_Table>")
    with pytest.warns(PluginWarning, match="broken.xml"):
        plugins = load_plugins([TaskTablePlugin([tmp_path])], entry_points_enabled=False)
    rows = {e.name: e for e in plugins.processors.entries()}
    assert rows["t-shell"].status == "enabled"
    assert rows["broken.xml"].status == "disabled"
    assert f"{bad}:1" in rows["broken.xml"].reason


def test_configured_directories_come_from_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``VIQ_TASK_TABLE_DIRS`` (the task_table_dirs setting) is where the entry-point plugin looks."""
    viq_ext_build.write_shell_processor(tmp_path / "tt")
    monkeypatch.setenv("VIQ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VIQ_TASK_TABLE_DIRS", json.dumps([str(tmp_path / "tt")]))
    from viq_host.external import plugin

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plugins = load_plugins([plugin], entry_points_enabled=False)
    assert plugins.processors.get("t-shell").declaration.version == "01.00"


def test_ipf_job_order_is_valid_against_the_venus_schema_and_reads_back(tmp_path: Path) -> None:
    """The MMFI writer's output passes VenusJobOrder.xsd strictly and the MMFI reader recovers what was written."""
    table = read_task_table(viq_ext_build.write_shell_processor(tmp_path, dialect="Ipf_Job_Order"))
    data = tmp_path / "a_VIQ_TSTDAT.bin"
    data.write_bytes(b"xyz")
    gipp = tmp_path / "VE_TEST_GIP_DARKCU_S_SITE_00003_20200101_20300101.EEF"
    gipp.write_text("<x/>")
    order = order_for_run(
        table.declaration,
        params=table.parameters(scale=2.0),
        inputs={"data": (InputProduct(path=data, product_type="VIQ_TSTDAT"),)},
        gipps={"GIP_DARKCU": (GippInForce(gipp_type="GIP_DARKCU", version=3, path=gipp),)},
        output_dir=tmp_path / "out",
    )
    xml = ipf_job_order_xml(order, str(tmp_path / "params.xml"))
    tree = etree.ElementTree(etree.fromstring(xml))
    assert xsd.issues(tree, xsd.MMFI_JOB_ORDER_XSD) == []
    back = mmfi.order_from_tree(tree, None).order
    assert back.processor == "t-shell" and back.version == "01.00"
    assert back.inputs[0].file_type == "VIQ_TSTDAT" and back.inputs[0].file_names == (str(data),)
    assert back.outputs[0].directory == str(tmp_path / "out")
    assert back.gipps[0].gipp_type == "GIP_DARKCU"
    params = etree.fromstring(parameter_file_xml(order))
    assert params.findtext("scale") == "2.0" and params.findtext("mode") == "ok"
