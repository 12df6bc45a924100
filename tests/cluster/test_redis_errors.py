"""What Redis's refusals mean for a call: one that passes, one for good, one never sent."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ResponseError, TimeoutError

from chinwag.cluster.redis_errors import is_fenced, is_transient, not_sent


def test_a_refusal_inside_a_script_on_an_older_redis_is_a_passing_one() -> None:
    """Before 7.0 Redis reports a write refused inside a script (out of memory, a read-only
    replica, a dump that cannot be written) as the script's failure: still one that passes,
    so the call goes again; a key of the wrong type inside a script stays one that does not."""
    failed = "Error running script (call to f_1a2b): @user_script:12: @user_script: 12: "
    for refusal in (
        "-OOM command not allowed when used memory > 'maxmemory'.",
        "-READONLY You can't write against a read only replica.",
        "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable",
        "-NOREPLICAS Not enough good replicas to write.",
    ):
        assert is_transient(ResponseError(failed + refusal))
    assert not is_transient(
        ResponseError(failed + "-WRONGTYPE Operation against a key holding the wrong kind")
    )
    assert is_transient(OutOfMemoryError("command not allowed when used memory > 'maxmemory'"))


def test_a_key_of_the_wrong_type_is_a_refusal_for_good_and_fenced_is_its_own() -> None:
    """WRONGTYPE (from Redis, or from a script that looked before writing) never passes; the
    scripts' FENCED is told apart from every other refusal."""
    assert not is_transient(ResponseError("WRONGTYPE cw:chan:#a holds a string, not a hash"))
    assert is_fenced(ResponseError("FENCED node n1.test epoch 3"))
    assert not is_fenced(ResponseError("WRONGTYPE Operation against a key"))


def test_only_a_call_that_never_left_is_certainly_not_sent() -> None:
    """No connection, or a connection found dead when written to: not sent. A timeout (part of
    the call may have gone) is not that."""
    assert not_sent(
        RedisConnectionError("Error 111 connecting to /tmp/r.sock. Connection refused.")
    )
    assert not_sent(RedisConnectionError("Error 32 while writing to socket. Connection lost."))
    assert not not_sent(TimeoutError("Timeout reading from socket"))
    assert not not_sent(RedisConnectionError("Connection closed by server."))
