"""XML layers of job orders: hardened parse, XSD with positions, our dialect written and read back."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jobs_support import Env
from lxml import etree

from viq_host.jobs import xsd
from viq_host.jobs.eegs import job_order_xml
from viq_host.jobs.model import JobOrder
from viq_host.jobs.reader import parse_job_order_bytes, read_job_order
from viq_host.jobs.xmlsafe import parse_xml_bytes
from viq_interfaces.errors import InvalidJobOrder
from viq_interfaces.exitcodes import ExitCode, exit_code_for

MAX = 1_048_576
WriteBytes = Callable[..., Path]


def _strip(order: JobOrder) -> dict[str, object]:
    """Order content without source positions (which a writer cannot preserve)."""
    data = order.model_dump(exclude={"source"})
    for key in ("inputs", "outputs", "gipps", "parameters"):
        for item in data[key]:
            item.pop("where")
    return data


def _read_fails(path: Path) -> InvalidJobOrder:
    with pytest.raises(InvalidJobOrder) as info:
        read_job_order(path, max_bytes=MAX)
    assert exit_code_for(info.value) == ExitCode.JOB_ORDER_ERROR
    assert info.value.source == str(path)
    return info.value


def test_malformed_xml_names_file_line_and_column(env: Env, write_bytes: WriteBytes) -> None:
    """A tag mismatch on line 3 is reported as file:3:column with exit code 128."""
    path = write_bytes(b'<?xml version="1.0"?>\n<Job_Order>\n  <Processor_Configuration>\n</Job_Order>\n')
    err = _read_fails(path)
    assert err.line == 4 and err.column is not None
    assert str(err).startswith(f"{path}:4:")
    assert "malformed XML" in err.message


def test_external_entity_is_refused_before_anything_is_read(env: Env, write_bytes: WriteBytes) -> None:
    """An XXE payload naming /etc/passwd is refused at its DOCTYPE line; the file's content never appears."""
    payload = (
        b'<?xml version="1.0"?>\n<!DOCTYPE Job_Order [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
        b"<Job_Order><Processor_Configuration><File_Class>&xxe;</File_Class></Processor_Configuration></Job_Order>\n"
    )
    path = write_bytes(payload)
    err = _read_fails(path)
    assert err.line == 2 and err.column == 1
    assert "DOCTYPE" in err.message
    assert "root:" not in str(err)


def test_billion_laughs_is_refused_quickly(env: Env, write_bytes: WriteBytes) -> None:
    """The classic entity-expansion bomb is refused at its declaration without expanding anything."""
    lines = [b'<?xml version="1.0"?>', b"<!DOCTYPE lolz [", b' <!ENTITY lol "lol">']
    for k in range(1, 10):
        prev = b"lol" if k == 1 else f"lol{k - 1}".encode()
        lines.append(f' <!ENTITY lol{k} "'.encode() + (b"&" + prev + b";") * 10 + b'">')
    lines += [b"]>", b"<Job_Order>&lol9;</Job_Order>"]
    path = write_bytes(b"\n".join(lines))
    start = time.perf_counter()
    err = _read_fails(path)
    assert time.perf_counter() - start < 1.0
    assert err.line == 2
    assert "not allowed" in err.message


def test_doctype_in_a_non_ascii_encoding_is_refused_after_parsing(env: Env) -> None:
    """A UTF-16 document hides its DOCTYPE from the byte scan; the parsed docinfo check still refuses it."""
    data = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE a [<!ENTITY e "x">]>\n<Job_Order>&e;</Job_Order>'
    with pytest.raises(InvalidJobOrder, match="DOCTYPE|entit") as info:
        parse_xml_bytes(data.encode("utf-16"), "mem.xml", max_bytes=MAX)
    assert info.value.source == "mem.xml"


def test_oversized_file_is_refused_without_parsing(env: Env, write_bytes: WriteBytes) -> None:
    """A job order above the byte limit is refused naming the size and the setting."""
    path = write_bytes(b"<Job_Order>" + b" " * 5000 + b"</Job_Order>")
    with pytest.raises(InvalidJobOrder, match="larger than the limit of 4096 bytes") as info:
        read_job_order(path, max_bytes=4096)
    assert info.value.field == "size" and info.value.source == str(path)
    with pytest.raises(InvalidJobOrder, match="max_job_order_bytes"):
        parse_job_order_bytes(path.read_bytes(), "mem.xml", max_bytes=4096)


def test_missing_job_order_file(env: Env) -> None:
    """A job-order path that does not exist is a 128 naming the file."""
    _read_fails(env.orders / "nope.xml")


def test_xsd_violation_names_line_and_xml_path(env: Env) -> None:
    """A Processor_Version not of the form NN.NN fails the XSD at its own line and path."""
    path = env.write(env.order())
    text = path.read_text().replace("<Processor_Version>01.00</Processor_Version>",
                                    "<Processor_Version>1.0</Processor_Version>")
    path.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if "<Processor_Version>" in t)
    err = _read_fails(path)
    assert err.line == line
    assert err.field == "/Job_Order/Processor_Configuration/Processor_Version"
    assert "'1.0'" in err.message


def test_duplicate_port_is_an_xsd_error(env: Env) -> None:
    """Two Input elements with the same Input_ID violate the schema's uniqueness constraint."""
    order = env.order()
    dup = order.model_copy(update={"inputs": (*order.inputs, order.inputs[0])})
    err = _read_fails(env.write(dup))
    assert "Unique_Input_ID" in err.message or "duplicate" in err.message.lower()
    assert err.line is not None


def test_unknown_root_element_and_namespace(env: Env, write_bytes: WriteBytes) -> None:
    """Only <Job_Order> and <Ipf_Job_Order> without namespace are job orders."""
    err = _read_fails(write_bytes(b"<Other/>", "a.xml"))
    assert "<Other>" in err.message and err.line == 1
    err = _read_fails(write_bytes(b'<Job_Order xmlns="urn:x"/>', "b.xml"))
    assert "namespace" in err.message


def test_written_order_is_schema_valid_and_reads_back_equal(env: Env) -> None:
    """write_job_order produces XSD-valid XML that reads back to the same order, with source lines."""
    order = env.order(
        sensing_start=datetime(2026, 3, 1, 10, 30, 0, 250000, tzinfo=UTC),
        sensing_stop=datetime(2026, 3, 1, 11, 0, tzinfo=UTC),
        site="LAMAIRE",
        file_class="TEST",
        cores=2,
        ram_bytes=4 * 1024**3,
    )
    path = env.write(order)
    tree = parse_xml_bytes(path.read_bytes(), str(path), max_bytes=MAX)
    assert xsd.issues(tree, xsd.JOB_ORDER_XSD) == []
    back = read_job_order(path, max_bytes=MAX)
    assert back.source == path
    assert _strip(back) == _strip(order)
    lines = path.read_text().splitlines()
    for item in (*back.inputs, *back.outputs, *back.gipps, *back.parameters):
        assert item.where.line is not None
        tag = item.where.xpath.rsplit("/", 1)[-1].split("[")[0]
        assert lines[item.where.line - 1].strip() == f"<{tag}>"
    assert [p.name for p in back.parameters] == ["threshold", "iterations"]


def test_writer_is_atomic_and_leaves_no_temporary_file(env: Env) -> None:
    """Writing replaces the target in one step; no temporary file remains in the directory."""
    path = env.write(env.order())
    first = path.read_bytes()
    env.write(env.order(site="OTHER"))
    assert path.read_bytes() != first
    assert sorted(p.name for p in env.orders.iterdir()) == ["order.xml"]


def test_order_without_optional_elements_is_valid(env: Env) -> None:
    """An order with no parameters, GIPPs, sensing time or resources still validates and reads back."""
    order = env.order(parameters=(), gipps=(), outputs=())
    tree = etree.fromstring(job_order_xml(order)).getroottree()
    assert xsd.issues(tree, xsd.JOB_ORDER_XSD) == []
    assert _strip(parse_job_order_bytes(job_order_xml(order), "<mem>")) == _strip(order)


def test_order_from_bytes_has_no_source_path(env: Env) -> None:
    """parse_job_order_bytes with a pseudo-source keeps source None (no directory to resolve against)."""
    order = parse_job_order_bytes(job_order_xml(env.order()), "<stdin>")
    assert order.source is None and order.processor == "calib-dark"
