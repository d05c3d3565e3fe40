"""Every built-in transform on edge values: nulls, NaN, ±inf, extreme timestamps, zones, unicode."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from colmig.errors import ConfigError
from tests.transforms.helpers import one_column

UTC = dt.UTC
NAN, INF = float("nan"), float("inf")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# --- time ---------------------------------------------------------------------------------


def test_unix_to_timestamp_infers_unit_from_magnitude_per_value() -> None:
    values = [1709251200, 1709251200_123, 1709251200_123_456, 1709251200_123_456_789, None, 0]
    out, rejects, typ = one_column("unix_to_timestamp", pa.array(values, pa.int64()))
    assert typ == pa.timestamp("us", tz="UTC")
    assert out[:4] == [
        utc(2024, 3, 1),
        utc(2024, 3, 1, 0, 0, 0, 123000),
        utc(2024, 3, 1, 0, 0, 0, 123456),
        utc(2024, 3, 1, 0, 0, 0, 123456),
    ]
    assert out[4] is None and out[5] == utc(1970, 1, 1)
    assert rejects is None


def test_unix_to_timestamp_extreme_years_in_seconds() -> None:
    year1 = int(dt.datetime(1, 1, 1, tzinfo=UTC).timestamp())
    year9999 = int(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())
    out, _, _ = one_column("unix_to_timestamp:s", pa.array([year1, year9999], pa.int64()))
    assert out == [utc(1, 1, 1), utc(9999, 12, 31, 23, 59, 59)]


def test_unix_to_timestamp_overflow_and_non_finite_floats_are_rejected() -> None:
    out, rejects, _ = one_column("unix_to_timestamp:s", pa.array([2**62, 5], pa.int64()))
    assert out == [utc(1970, 1, 1, 0, 0, 5)]
    assert rejects is not None and rejects.column("x").to_pylist() == [2**62]
    out, rejects, _ = one_column("unix_to_timestamp", [1.5, NAN, INF, -INF, None])
    assert out == [utc(1970, 1, 1, 0, 0, 1, 500000), None]
    assert rejects is not None and rejects.num_rows == 3


def test_unix_to_timestamp_units_time_zones_and_strings() -> None:
    out, _, typ = one_column("unix_to_timestamp:ms,Europe/Berlin", pa.array([0], pa.int64()))
    assert typ == pa.timestamp("us", tz="Europe/Berlin")
    assert out == [dt.datetime(1970, 1, 1, 1, tzinfo=ZoneInfo("Europe/Berlin"))]
    out, _, typ = one_column("{unix_to_timestamp: {unit: ns, tz: none}}", pa.array([1], pa.int64()))
    assert typ == pa.timestamp("us") and out == [dt.datetime(1970, 1, 1)]
    out, rejects, _ = one_column("unix_to_timestamp", [" 60 ", "1.5", "soon", None])
    assert out == [utc(1970, 1, 1, 0, 1), utc(1970, 1, 1, 0, 0, 1, 500000), None]
    assert rejects is not None and rejects.column("x").to_pylist() == ["soon"]


def test_timestamp_to_unix_and_ns_overflow() -> None:
    values = pa.array([utc(2024, 3, 1), utc(9999, 12, 31), None], pa.timestamp("us", tz="UTC"))
    out, rejects, typ = one_column("timestamp_to_unix", values)
    assert typ == pa.int64() and out == [1709251200, 253402214400, None]
    out, rejects, _ = one_column("timestamp_to_unix:ns", values)
    assert out == [1709251200 * 10**9, None]
    assert rejects is not None and rejects.num_rows == 1  # year 9999 does not fit in int64 ns


def test_parse_timestamp_with_format_zone_and_dst() -> None:
    values = ["2024-03-31 02:30", "2024-03-31 01:30", "2024-10-27 02:30", "garbage", None]
    out, rejects, typ = one_column(
        "{parse_timestamp: {format: '%Y-%m-%d %H:%M', tz: Europe/Berlin}}", values
    )
    berlin = ZoneInfo("Europe/Berlin")
    assert typ == pa.timestamp("us", tz="Europe/Berlin")
    # 02:30 on 2024-03-31 does not exist in Berlin (clocks jump) -> rejected with "garbage";
    # 02:30 on 2024-10-27 happens twice -> the earlier one (CEST).
    assert out == [
        dt.datetime(2024, 3, 31, 1, 30, tzinfo=berlin),
        dt.datetime(2024, 10, 27, 2, 30, tzinfo=berlin, fold=0),
        None,
    ]
    assert out[1].utcoffset() == dt.timedelta(hours=2)
    assert rejects is not None
    assert rejects.column("x").to_pylist() == ["2024-03-31 02:30", "garbage"]
    assert "parse_timestamp" in rejects.column("_colmig_reject_reason")[0].as_py()


def test_parse_timestamp_iso_default_mixes_offsets_into_utc() -> None:
    values = ["2024-03-01T00:00:00Z", "2024-03-01T01:00:00+01:00", "0001-01-01T00:00:00Z"]
    out, rejects, typ = one_column("parse_timestamp", values)
    assert typ == pa.timestamp("us", tz="UTC")
    assert out == [utc(2024, 3, 1), utc(2024, 3, 1), utc(1, 1, 1)]
    assert rejects is None


def test_parse_timestamp_format_with_comma_in_string_form() -> None:
    out, _, _ = one_column('"parse_timestamp:%d.%m.%Y, %H:%M"', ["01.03.2024, 10:00"])
    assert out == [utc(2024, 3, 1, 10)]


def test_convert_tz_naive_and_aware() -> None:
    naive = pa.array([dt.datetime(2024, 7, 1, 12), None], pa.timestamp("us"))
    out, _, typ = one_column("convert_tz:America/New_York", naive)
    assert typ == pa.timestamp("us", tz="America/New_York")
    assert out[0] == utc(2024, 7, 1, 12) and out[0].utcoffset() == dt.timedelta(hours=-4)
    assert out[1] is None
    out, _, typ = one_column("[unix_to_timestamp, convert_tz:UTC]", pa.array([0], pa.int64()))
    assert typ == pa.timestamp("us", tz="UTC") and out == [utc(1970, 1, 1)]


def test_unknown_time_zone_is_a_config_error_with_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"test.yaml:\d+:\d+: .*Europe/Berlin"):
        one_column("convert_tz:Europe/Berln", pa.array([dt.datetime(2024, 1, 1)]))


# --- numbers ------------------------------------------------------------------------------


def test_float_precision_and_round_on_edge_values() -> None:
    out, _, typ = one_column("float_precision:2", [1.005, 2.345, -2.345, NAN, INF, -INF, None])
    assert typ == pa.float64()
    assert out[1:3] == [2.35, -2.35] and math.isnan(out[3])
    assert out[4:] == [INF, -INF, None]
    out, _, typ = one_column("float_precision:1", pa.array([3, None], pa.int32()))
    assert typ == pa.float64() and out == [3.0, None]
    out, _, typ = one_column("round", pa.array([7, None], pa.int64()))
    assert typ == pa.int64() and out == [7, None]
    out, _, _ = one_column("round:1", [0.25, 0.35, -0.25])
    assert out == [0.3, 0.4, -0.3]


def test_scale_offset_clip() -> None:
    out, _, _ = one_column("[scale:0.1, offset:-1]", [10.0, None, INF])
    assert out == [0.0, None, INF]
    out, _, _ = one_column('"clip:0,100"', [-5.0, 50.0, 105.0, None, INF, -INF])
    assert out == [0.0, 50.0, 100.0, None, 100.0, 0.0]
    out, _, _ = one_column('"clip:,10"', pa.array([5, 20], pa.int64()))
    assert out == [5, 10]
    with pytest.raises(ConfigError, match="minimum 5 is greater than maximum 1"):
        one_column("{clip: [5, 1]}", [1.0])


def test_nan_to_null_then_default() -> None:
    out, _, _ = one_column("[nan_to_null, default:-1]", [1.0, NAN, None])
    assert out == [1.0, -1.0, -1.0]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("celsius_to_fahrenheit", 100.0, 212.0),
        ("fahrenheit_to_celsius", 32.0, 0.0),
        ("kelvin_to_celsius", 0.0, -273.15),
        ("celsius_to_kelvin", -273.15, 0.0),
        ("fahrenheit_to_kelvin", 32.0, 273.15),
        ("kelvin_to_fahrenheit", 273.15, 32.0),
        ("pa_to_hpa", 101325.0, 1013.25),
        ("hpa_to_pa", 1013.25, 101325.0),
        ("kpa_to_hpa", 101.325, 1013.25),
        ("psi_to_hpa", 14.6959, 1013.25),
        ("inhg_to_hpa", 29.92, 1013.21),
        ("mps_to_kmh", 10.0, 36.0),
        ("kmh_to_mps", 36.0, 10.0),
        ("mph_to_kmh", 10.0, 16.09),
        ("m_to_ft", 1.0, 3.28),
        ("mm_to_in", 25.4, 1.0),
        ("wh_to_kwh", 1500.0, 1.5),
        ("ratio_to_percent", 0.5, 50.0),
    ],
)
def test_unit_conversions(name: str, value: float, expected: float) -> None:
    out, _, typ = one_column(name, [value, None, NAN])
    assert typ == pa.float64()
    assert out[0] == pytest.approx(expected, abs=0.01)
    assert out[1] is None and math.isnan(out[2])


def test_unit_conversion_of_integers_and_inf() -> None:
    out, _, _ = one_column("celsius_to_fahrenheit", pa.array([0, None], pa.int16()))
    assert out == [32.0, None]
    out, _, _ = one_column("celsius_to_fahrenheit", [INF])
    assert out == [INF]


# --- types and values ---------------------------------------------------------------------


def test_cast_string_to_numbers_rejects_bad_values() -> None:
    out, rejects, typ = one_column(
        "cast:int64", ["1", " 2 ", "x", "1.5", None, "99999999999999999999"]
    )
    assert typ == pa.int64() and out == [1, 2, None]
    assert rejects is not None
    assert rejects.column("x").to_pylist() == ["x", "1.5", "99999999999999999999"]
    out, rejects, _ = one_column("cast:float64", ["1.5", "nan", "inf", "-inf", "e"])
    assert out[0] == 1.5 and math.isnan(out[1]) and out[2:] == [INF, -INF]
    assert rejects is not None and rejects.num_rows == 1


def test_cast_floats_to_int_rejects_nan_and_inf() -> None:
    out, rejects, _ = one_column("cast:int32", [1.0, NAN, INF, 3e10])
    assert out == [1]
    assert rejects is not None and rejects.num_rows == 3


def test_cast_to_bool_date_timestamp_decimal_string() -> None:
    out, rejects, typ = one_column("cast:bool", ["true", "No", "1", "maybe"])
    assert typ == pa.bool_() and out == [True, False, True]
    assert rejects is not None and rejects.num_rows == 1
    out, _, typ = one_column("cast:date", ["2024-02-29", "9999-12-31"])
    assert typ == pa.date32() and out == [dt.date(2024, 2, 29), dt.date(9999, 12, 31)]
    out, _, typ = one_column('"cast:timestamp(UTC)"', ["2024-03-01 10:00:00"])
    assert typ == pa.timestamp("us", tz="UTC") and out == [utc(2024, 3, 1, 10)]
    out, _, typ = one_column('"cast:decimal(10,2)"', [1.234])
    assert typ == pa.decimal128(10, 2)
    out, _, typ = one_column("cast:string", pa.array([1, None], pa.int64()))
    assert typ in (pa.string(), pa.large_string()) and out == ["1", None]


def test_cast_unknown_type_and_number_to_timestamp_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown type 'intt'; did you mean 'int'"):
        one_column("cast:intt", [1])
    with pytest.raises(ConfigError, match="use unix_to_timestamp"):
        one_column("cast:timestamp", [1])


def test_default_fills_nulls_with_typed_value() -> None:
    assert one_column("default:0", pa.array([None, 3], pa.int64()))[0] == [0, 3]
    assert one_column('"default:n/a"', ["x", None])[0] == ["x", "n/a"]
    out, _, _ = one_column(
        "{default: '2024-01-01T00:00:00Z'}", pa.array([None], pa.timestamp("us", "UTC"))
    )
    assert out == [utc(2024, 1, 1)]
    with pytest.raises(ConfigError, match="'abc' is not an integer"):
        one_column("default:abc", pa.array([None], pa.int64()))


# --- strings ------------------------------------------------------------------------------


def test_string_case_and_trim_with_unicode() -> None:
    values = ["  Straße ÄÖÜ  ", "ÉCOLE", None, "日本"]
    assert one_column("lowercase", values)[0] == ["  straße äöü  ", "école", None, "日本"]
    assert one_column("uppercase", values)[0][1:] == ["ÉCOLE", None, "日本"]
    assert one_column("trim", values)[0][0] == "Straße ÄÖÜ"
    assert one_column('"trim:-_"', ["--a_"])[0] == ["a"]


def test_regex_replace_with_groups_and_comma_in_pattern() -> None:
    out, _, _ = one_column(r"'regex_replace:(\d+),(\d+),$2.$1'", ["12,34 x"])
    assert out == ["34.12 x"]
    out, _, _ = one_column(r"{regex_replace: {pattern: '\s+', replacement: _}}", ["a  b\tc", None])
    assert out == ["a_b_c", None]
    with pytest.raises(ConfigError, match="invalid regular expression"):
        one_column('"regex_replace:(,x"', ["a"])


def test_map_values_keeps_unmapped_or_uses_default() -> None:
    out, _, _ = one_column("{map_values: {degC: °C, '%RH': '%'}}", ["degC", "%RH", "hPa", None])
    assert out == ["°C", "%", "hPa", None]
    out, _, typ = one_column(
        "{map_values: {mapping: {ok: 1, bad: 0}, default: -1}}", ["ok", "bad", "?"]
    )
    assert out == [1, 0, -1] and pa.types.is_integer(typ)
    out, _, _ = one_column("{map_values: {1: 10, 2: 20}}", pa.array([1, 2, 3], pa.int64()))
    assert out == [10, 20, 3]
    with pytest.raises(ConfigError, match="map_values needs a dictionary"):
        one_column("map_values:a", ["a"])


def test_json_extract() -> None:
    values = ['{"a": {"b": 1.5}}', '{"a": {"b": "ü"}}', "not json", None, "{}"]
    out, rejects, _ = one_column('"json_extract:$.a.b"', values)
    assert out == ["1.5", "ü", None, None, None]
    assert rejects is None
    with pytest.raises(ConfigError, match="JSONPath"):
        one_column("json_extract:a.b", values)


def test_string_transform_on_number_is_a_type_error_with_position() -> None:
    with pytest.raises(
        ConfigError, match=r"test.yaml:7:20: lowercase on column 'x': needs a string"
    ):
        one_column("lowercase", [1.0])


# --- privacy ------------------------------------------------------------------------------


def test_hash_sha256_with_salt_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLMIG_TEST_SALT", "pepper-7")
    out, _, _ = one_column("{hash_sha256: {salt_env: COLMIG_TEST_SALT}}", ["alice", None, "日本"])
    assert out == [
        hashlib.sha256(b"pepper-7alice").hexdigest(),
        None,
        hashlib.sha256("pepper-7日本".encode()).hexdigest(),
    ]
    out, _, _ = one_column("hash_sha256", pa.array([42], pa.int64()))
    assert out == [hashlib.sha256(b"42").hexdigest()]


def test_hash_sha256_missing_env_names_variable_not_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLMIG_MISSING_SALT", raising=False)
    with pytest.raises(ConfigError, match="COLMIG_MISSING_SALT"):
        one_column("hash_sha256:COLMIG_MISSING_SALT", ["a"])


def test_mask_keeps_ends_and_hides_short_values() -> None:
    values = ["4111111111111111", "abc", "", None, "日本語テキスト"]
    out, _, _ = one_column("mask", values)
    assert out == ["************1111", "***", "", None, "***テキスト"]
    out, _, _ = one_column("{mask: {keep_first: 1, keep_last: 1, char: '#'}}", ["alice", "ab"])
    assert out == ["a###e", "##"]


def test_null_and_drop() -> None:
    out, _, typ = one_column("null", pa.array([1, 2], pa.int64()))
    assert out == [None, None] and typ == pa.int64()
    table = pa.table({"x": [1], "email": ["a@b"]})
    from tests.transforms.helpers import compile_yaml

    compiled = compile_yaml(
        """
        transformations:
          - name: t
            passthrough: true
            mappings:
              - source: email
                transform: drop
        """,
        table,
    )
    assert compiled.output_schema.names == ["x"]
    assert compiled.apply(table)[0].to_pylist() == [{"x": 1}]
