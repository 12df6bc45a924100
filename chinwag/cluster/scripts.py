"""The Lua scripts through which every node changes the network's shared state in Redis.

Redis runs a script atomically: nothing else happens in Redis while it runs. So a nick claim wins
everywhere or nowhere, and the one script call that carries a loop turn's events appends them to
every destination node's inbox at once, which is what gives every node the same order.

The keys (``cw:`` is the prefix; a name in angle brackets is a node's or a channel's):

================  ======  ==============================================================
key               type    what it holds
================  ======  ==============================================================
cw:epoch          string  a counter: each node incarnation gets the next value
cw:nodes          hash    node -> its epoch: the nodes of the network
cw:lease:<node>   string  the node's epoch, with a TTL the node renews: gone = node dead
cw:nicks          hash    folded nick -> "<node>/<uid>": who holds each nick
cw:owned:<node>   set     the folded nicks held by the node's users
cw:chan:<chan>    hash    node -> how many of the channel's members are on that node
cw:joined:<node>  set     the channels where the node has members
cw:ident:<chan>   string  the channel's history identity, drawn by the node that created it
                          (`CLAIM_CHANNEL`); gone with the channel's last member
cw:claim:<n>:<t>  string  the answer to node n's channel claim of token t (`CLAIM_CHANNEL`),
                          for the call sent again; gone after a minute
cw:inbox:<node>   stream  the node's inbox: one entry per script call, ``e`` = the events
                          (each a line, ``events.py``), or ``split`` = the name of a node
                          that was declared dead
cw:turn           hash    node -> the number of its last script call applied (``TURN``)
cw:skipped        hash    node -> "<number> <index>...": the operations `TURN` refused in
                          the node's last call that had any, for the call sent again
cw:history        stream  the lines to keep, not yet in PostgreSQL: one entry per script
                          call, ``h`` = its history records (``history_feed.py``)
================  ======  ==============================================================

Fencing: every script that writes for a node first checks that ``cw:nodes[node]`` is still the
node's epoch. A node that was declared dead (its lease expired and a reaper removed it) gets the
error ``FENCED`` and can never write stale state, even if it comes back (SIGCONT, network healed).

The scripts name keys they compute (inboxes, channels) without declaring them in ``KEYS``, which
plain Redis allows and Redis Cluster does not: a network runs on one Redis (with replicas).
"""

from __future__ import annotations

__all__ = [
    "CLAIM_CHANNEL",
    "CLAIM_NICK",
    "HISTORY",
    "HISTORY_GROUP",
    "HISTORY_TAIL",
    "JOIN_NODE",
    "LEAVE_GROUP",
    "LEAVE_NODE",
    "REAP",
    "RENEW",
    "TRIM_HISTORY",
    "TURN",
]

INBOX_MAXLEN = 100_000
"""Entries an inbox keeps at most (trimmed approximately): a node reads far faster."""

HISTORY = "cw:history"
"""The stream of lines to keep: written by `TURN`, read by the consumer group `HISTORY_GROUP`,
trimmed (`TRIM_HISTORY`) only behind what the group has acknowledged, never by length: a line
leaves Redis once it is in PostgreSQL."""
HISTORY_GROUP = "store"
"""The consumer group that moves `HISTORY` into PostgreSQL; each node is one consumer."""

_FENCE = """
local function fence(node, epoch)
    if redis.call('HGET', 'cw:nodes', node) ~= epoch then
        return redis.error_reply('FENCED node ' .. node .. ' epoch ' .. epoch)
    end
    return nil
end
"""

# Remove a dead node: its nicks, its channel memberships, its inbox; tell every other node.
_REAP_NODE = """
-- A key of the wrong type (a corrupt key) is passed over (``pcall``), not fatal: a reaper that
-- stopped halfway would leave the dead node half removed, and fail again on every tick.
local function members(key)
    local found = redis.pcall('SMEMBERS', key)
    return found.err and {} or found
end
local function reap_node(dead)
    for _, nick in ipairs(members('cw:owned:' .. dead)) do
        local owner = redis.pcall('HGET', 'cw:nicks', nick)
        if type(owner) == 'string' and string.sub(owner, 1, #dead + 1) == dead .. '/' then
            redis.call('HDEL', 'cw:nicks', nick)
        end
    end
    for _, chan in ipairs(members('cw:joined:' .. dead)) do
        redis.pcall('HDEL', 'cw:chan:' .. chan, dead)
        if redis.call('EXISTS', 'cw:chan:' .. chan) == 0 then
            redis.call('DEL', 'cw:ident:' .. chan)
        end
    end
    redis.call('DEL', 'cw:owned:' .. dead, 'cw:joined:' .. dead, 'cw:inbox:' .. dead)
    redis.call('HDEL', 'cw:nodes', dead)
    redis.pcall('HDEL', 'cw:turn', dead)
    redis.pcall('HDEL', 'cw:skipped', dead)
    for _, node in ipairs(redis.call('HKEYS', 'cw:nodes')) do
        redis.call('XADD', 'cw:inbox:' .. node, 'MAXLEN', '~', ARGV_MAXLEN, '*', 'split', dead)
    end
end
"""


_WRONG_TYPE = """
-- The refusal of a key that holds another type than ``wanted`` (a corrupt key), or nil: a
-- script looks before its first write, so that a refused call has changed nothing.
local function wrong_type(key, wanted)
    local found = redis.call('TYPE', key)['ok']
    if found == wanted or found == 'none' then return nil end
    return 'WRONGTYPE ' .. key .. ' holds a ' .. found .. ', not a ' .. wanted
end
"""


def _with(*parts: str) -> str:
    return "".join(parts).replace("ARGV_MAXLEN", str(INBOX_MAXLEN))


JOIN_NODE = _with(
    _REAP_NODE,
    """
-- ARGV: node, lease in ms. Returns the node's new epoch, and the live node asked for the
-- network's state (none when this node is alone): its inbox gets a ``sync`` event, in the same
-- instant as this node's inbox starts to receive events (see snapshot.py).
local node, lease = ARGV[1], ARGV[2]
if redis.call('HEXISTS', 'cw:nodes', node) == 1 then
    reap_node(node)  -- an earlier incarnation of this node: its users are gone
end
redis.call('DEL', 'cw:inbox:' .. node)  -- what it holds was sent to an earlier incarnation
redis.pcall('HDEL', 'cw:turn', node)  -- the new incarnation numbers its calls from 1
redis.pcall('HDEL', 'cw:skipped', node)
local peer = false
for _, other in ipairs(redis.call('HKEYS', 'cw:nodes')) do
    if redis.call('EXISTS', 'cw:lease:' .. other) == 1 then
        peer = other
        break
    end
end
local epoch = tostring(redis.call('INCR', 'cw:epoch'))
redis.call('HSET', 'cw:nodes', node, epoch)
redis.call('SET', 'cw:lease:' .. node, epoch, 'PX', lease)
if peer then
    redis.call('XADD', 'cw:inbox:' .. peer, 'MAXLEN', '~', ARGV_MAXLEN, '*', 'e',
        node .. '\\0sync\\0' .. cjson.encode({'', epoch}) .. '\\n')  -- see events.py
end
return {epoch, peer}
""",
)

RENEW = _with(
    _FENCE,
    """
-- ARGV: node, epoch, lease in ms.
local refused = fence(ARGV[1], ARGV[2])
if refused then return refused end
redis.call('SET', 'cw:lease:' .. ARGV[1], ARGV[2], 'PX', ARGV[3])
return 1
""",
)

LEAVE_NODE = _with(
    _FENCE,
    _REAP_NODE,
    """
-- ARGV: node, epoch. A node that stops in order leaves now, not when its lease runs out: its
-- users have QUIT already (their events came first), and the others are told as for a dead
-- node, for any that could not (a netsplit of nobody, usually).
local refused = fence(ARGV[1], ARGV[2])
if refused then return refused end
reap_node(ARGV[1])
redis.call('DEL', 'cw:lease:' .. ARGV[1])
return 1
""",
)

REAP = _with(
    _REAP_NODE,
    """
-- Remove every node whose lease expired. Returns their names. Any node may run it, any time.
local dead = {}
for _, node in ipairs(redis.call('HKEYS', 'cw:nodes')) do
    if redis.call('EXISTS', 'cw:lease:' .. node) == 0 then
        reap_node(node)
        table.insert(dead, node)
    end
end
return dead
""",
)

CLAIM_NICK = _with(
    _FENCE,
    """
-- ARGV: node, epoch, owner ("<node>/<uid>"), folded nick wanted, folded nick held ('' if none).
-- Returns 1 when the nick is now the owner's (the old one released), else the current owner.
local node, owner, wanted, held = ARGV[1], ARGV[3], ARGV[4], ARGV[5]
local refused = fence(node, ARGV[2])
if refused then return refused end
local current = redis.call('HGET', 'cw:nicks', wanted)
if current and current ~= owner then return current end
redis.call('HSET', 'cw:nicks', wanted, owner)
redis.call('SADD', 'cw:owned:' .. node, wanted)
if held ~= '' and held ~= wanted and redis.call('HGET', 'cw:nicks', held) == owner then
    redis.call('HDEL', 'cw:nicks', held)
    redis.call('SREM', 'cw:owned:' .. node, held)
end
return 1
""",
)

CLAIM_CHANNEL = _with(
    _FENCE,
    _WRONG_TYPE,
    """
-- ARGV: node, epoch, folded channel, the history identity to give it if this node creates it,
-- the claim's token, and the milliseconds to keep its answer.
-- A user of the node joins a channel the node has no member of. Nobody anywhere is in it: the
-- user creates it (its operator), and returns {1, identity}. Else {0, its identity}. Either
-- way the member is counted in, as TURN's ``enter`` does (the node does not enter again).
-- A call with a token already answered is the node sending it again (the answer was lost): it
-- gets that answer, and nothing more is counted.
local node, chan, identity, token = ARGV[1], ARGV[3], ARGV[4], ARGV[5]
local refused = fence(node, ARGV[2])
if refused then return refused end
refused = wrong_type('cw:chan:' .. chan, 'hash') or wrong_type('cw:joined:' .. node, 'set')
if refused then return redis.error_reply(refused) end
local claim = false
if token and token ~= '' then  -- an older node sends no token
    claim = 'cw:claim:' .. node .. ':' .. token
    local answered = redis.call('GET', claim)
    if answered then
        return {tonumber(string.sub(answered, 1, 1)), string.sub(answered, 3)}
    end
end
local created = redis.call('EXISTS', 'cw:chan:' .. chan) == 0
if created then
    redis.call('SET', 'cw:ident:' .. chan, identity)
elseif redis.call('SET', 'cw:ident:' .. chan, identity, 'NX') == false then
    -- (Entered without one, through an older node's ``enter``, which carries none: the
    -- first claim after gives it one, which every later claim gets.)
    identity = redis.call('GET', 'cw:ident:' .. chan)
end
redis.call('HINCRBY', 'cw:chan:' .. chan, node, 1)
redis.call('SADD', 'cw:joined:' .. node, chan)
if claim then
    redis.call('SET', claim, (created and '1 ' or '0 ') .. identity, 'PX', ARGV[6])
end
return {created and 1 or 0, identity}
""",
)

TURN = _with(
    _FENCE,
    _WRONG_TYPE,
    """
-- ARGV: node, epoch, the call's number, then the call's operations in one argument: one line
-- each, "<op> <argument> <event>", where the event is itself a line (events.py) or, for the
-- state ops, nothing or a value (the line ends after the argument's space, or the value's
-- end); then how many operations there are. One argument, not three per operation: redis-py
-- spent about 8% of a node's CPU packing them one by one (py-spy, a 100-member room on 2
-- nodes), and an argument or an event never holds a space, resp. a raw line end, before its
-- own end.
-- A node numbers its calls 1, 2, 3...; a call whose number was already applied is a retry of
-- one whose answer was lost (Redis went away after applying it): it is skipped, and answered
-- as the first time (with -1 for the count), so that a retry never delivers anything twice.
-- Routing ops add the event to the inboxes it goes to:
--   to <node>     that node            chan <chan>   every node with members in the channel
--   all -         every node
-- State ops carry no event (a value at most):
--   enter <chan> [<identity>]  one more member of the channel on this node; the channel's
--                 history identity, which it keeps if it has none (``cw:ident``)
--   leave <chan>  one fewer (the last one leaving takes the node out of the channel)
--   release <nick>  the nick is free, if this node's user held it
--   take <nick>   the nick is now the user named in the event slot ("<node>/<uid>"), whoever
--                 held it: a rename by the services (NickServ REGAIN, nick protection)
--   keep -        the event is a history record (a line), for cw:history
-- Every destination gets ONE stream entry with its events in op order, and cw:history one
-- entry with the call's records: a line is in history exactly when it is in an inbox.
-- All or nothing per operation: an operation that a key of the wrong type (a corrupt key, a
-- count that is no number) would make fail is skipped whole, before any of its writes, and
-- the others are applied; a message refused takes its line's history record and its other
-- destinations with it (and a record refused, its line), so that a line is still in history
-- exactly when it is in an inbox. Each key's type is looked up once per call. An inbox that
-- is no stream refuses what is sent to that node alone (``to``); the events for several
-- nodes (``chan``, ``all``) go to the others: that node cannot read its inbox any more, and
-- one broken node must not stop everyone's lines. (What no check foresees still aborts the
-- call halfway: an XADD to a stream whose last ID is the largest there is, which none of
-- chinwag's writes makes.)
-- Returns {the inbox entries appended, then the (0-based) indices of the skipped operations}.
local node, epoch, number, ops = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local count = tonumber(ARGV[5] or '0')
local refused = fence(node, epoch)
if refused then return refused end
if number <= tonumber(redis.call('HGET', 'cw:turn', node) or '0') then
    local answer = {-1}
    local skipped = redis.pcall('HGET', 'cw:skipped', node)
    if type(skipped) == 'string' then
        local words = string.gmatch(skipped, '%d+')
        if tonumber(words()) == number then
            for index in words do table.insert(answer, tonumber(index)) end
        end
    end
    return answer
end
redis.call('HSET', 'cw:turn', node, number)
local find, sub, match = string.find, string.sub, string.match
local outbox, order, kept, skipped = {}, {}, {}, {}
local kinds = {}  -- key -> whether it may be written as the type wanted (looked up once)
local function usable(key, wanted)
    local ok = kinds[key]
    if ok == nil then
        ok = wrong_type(key, wanted) == nil
        kinds[key] = ok
    end
    return ok
end
local function box(dest)  -- the events for dest's inbox, or false when it is unusable
    local list = outbox[dest]
    if list == nil then
        list = usable('cw:inbox:' .. dest, 'stream') and {}
        outbox[dest] = list
        if list then table.insert(order, dest) end
    end
    return list
end
local withdrawn = nil  -- msgid -> true: lines refused (set on the first refusal only)
local function line_of(event)  -- a message event's msgid (events.py), or nil
    local kind, msgid = match(event, '^[^%z]*%z([^%z]*)%z([^%z]*)%z')
    if kind == 'msg' or kind == 'pm' then return msgid end
    return nil
end
local function skip(index, event)
    table.insert(skipped, index)
    local msgid = event and line_of(event)
    if not msgid then return end
    -- The line goes whole: its history record and its other destinations' copies too.
    withdrawn = withdrawn or {}
    withdrawn[msgid] = true
    for k = #kept, 1, -1 do
        if sub(kept[k], 1, #msgid + 1) == msgid .. '\\0' then table.remove(kept, k) end
    end
    for _, dest in ipairs(order) do
        local list = outbox[dest]
        for k = #list, 1, -1 do
            if list[k] == event then table.remove(list, k) end
        end
    end
end
local function lists_of(dests)  -- the events of those of dests whose inbox can take them
    local lists = {}
    for _, dest in ipairs(dests) do
        local list = box(dest)
        if list then lists[#lists + 1] = list end
    end
    return lists
end
local function route(index, event, lists)  -- add event to every one of lists
    if withdrawn then
        local msgid = line_of(event)
        if msgid and withdrawn[msgid] then return skip(index, event) end
    end
    for k = 1, #lists do
        local list = lists[k]
        list[#list + 1] = event
    end
end
-- A room's destinations, read once per call (until an enter or a leave of it in the call):
-- most calls carry many lines to few rooms. False for a room whose key is corrupt.
local rooms, everyone = {}, nil
local joined, owned = 'cw:joined:' .. node, 'cw:owned:' .. node
local pos, size, index = 1, #ops, -1
while pos <= size do
    index = index + 1
    local space = find(ops, ' ', pos, true)
    local second = space and find(ops, ' ', space + 1, true)
    local stop = second and find(ops, '\\n', second + 1, true)
    if not stop then  -- the rest cannot be read: all of it is skipped
        for rest = index, math.max(index, count - 1) do table.insert(skipped, rest) end
        break
    end
    local op, arg, event = sub(ops, pos, space - 1), sub(ops, space + 1, second - 1), nil
    if stop > second + 1 then event = sub(ops, second + 1, stop) end
    pos = stop + 1
    if op == 'to' then
        local list = box(arg)
        if not list then
            skip(index, event)
        elseif withdrawn then
            route(index, event, {list})
        else
            list[#list + 1] = event
        end
    elseif op == 'chan' then
        local lists = rooms[arg]
        if lists == nil then
            local dests = redis.pcall('HKEYS', 'cw:chan:' .. arg)
            lists = not dests.err and lists_of(dests)
            rooms[arg] = lists
        end
        if lists then route(index, event, lists) else skip(index, event) end
    elseif op == 'all' then
        everyone = everyone or lists_of(redis.call('HKEYS', 'cw:nodes'))
        route(index, event, everyone)
    elseif op == 'keep' then
        if usable('cw:history', 'stream') then
            kept[#kept + 1] = event
        else  -- its line goes too (its routing ops come after it): msgid first (history_feed.py)
            skip(index, nil)
            withdrawn = withdrawn or {}
            withdrawn[match(event, '^[^%z]*')] = true
        end
    elseif op == 'enter' or op == 'leave' then
        local chan = 'cw:chan:' .. arg
        rooms[arg] = nil  -- its destinations may change
        -- The count first: the one write that can fail on the value (not a number).
        local members = usable(joined, 'set') and redis.pcall(
            'HINCRBY', chan, node, op == 'enter' and 1 or -1)
        if not members or type(members) == 'table' then
            skip(index, nil)
        elseif op == 'enter' then
            redis.call('SADD', joined, arg)
            if event then redis.call('SET', 'cw:ident:' .. arg, sub(event, 1, -2), 'NX') end
        elseif members <= 0 then
            redis.call('HDEL', chan, node)
            redis.call('SREM', joined, arg)
            if redis.call('EXISTS', chan) == 0 then redis.call('DEL', 'cw:ident:' .. arg) end
        end
    elseif op == 'take' or op == 'release' then
        local owner, ok = false, usable(owned, 'set')
        if ok then
            owner = redis.pcall('HGET', 'cw:nicks', arg)  -- false: nobody's
            ok = type(owner) ~= 'table'
        end
        if not ok then
            skip(index, nil)
        elseif op == 'take' then
            redis.call('HSET', 'cw:nicks', arg, sub(event, 1, -2))
            redis.call('SADD', owned, arg)
        elseif owner and sub(owner, 1, #node + 1) == node .. '/' then
            redis.call('HDEL', 'cw:nicks', arg)
            redis.call('SREM', owned, arg)
        end
    else
        skip(index, nil)  -- an op of a later version: not this script's to guess
    end
end
local appended = 0
for _, dest in ipairs(order) do
    local list = outbox[dest]
    if #list > 0 and redis.call('HEXISTS', 'cw:nodes', dest) == 1 then
        redis.call('XADD', 'cw:inbox:' .. dest, 'MAXLEN', '~', ARGV_MAXLEN, '*', 'e',
            table.concat(list))
        appended = appended + 1
    end
end
if #kept > 0 then
    redis.call('XADD', 'cw:history', '*', 'h', table.concat(kept))
end
if #skipped > 0 then
    redis.pcall('HSET', 'cw:skipped', node, number .. ' ' .. table.concat(skipped, ' '))
end
table.insert(skipped, 1, appended)
return skipped
""",
)

HISTORY_TAIL = """
-- ARGV: a conversation key, or '' for every conversation; how many lines to look at, at most.
-- Returns the history records of cw:history (the lines not yet known to be in PostgreSQL) of
-- that conversation, in order; or the error BEHIND when there are more lines than that (the
-- scan would hold Redis up for everyone). A record's fields are NUL-separated; the
-- conversation key is the third.
local wanted, budget = ARGV[1], tonumber(ARGV[2])
local found = {}
for _, entry in ipairs(redis.call('XRANGE', 'cw:history', '-', '+')) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
        if fields[i] == 'h' then
            for record in string.gmatch(fields[i + 1], '[^\\n]+') do
                budget = budget - 1
                if budget < 0 then
                    return redis.error_reply('BEHIND more lines than the scan may read')
                end
                if wanted == '' then
                    table.insert(found, record)
                else
                    local first = string.find(record, '\\0', 1, true)
                    local second = first and string.find(record, '\\0', first + 1, true)
                    if second and string.sub(record, second + 1, second + #wanted + 1)
                            == wanted .. '\\0' then
                        table.insert(found, record)
                    end
                end
            end
        end
    end
end
return found
"""

TRIM_HISTORY = """
-- Remove from cw:history what the consumer group has acknowledged (so: what PostgreSQL has),
-- keeping every entry not yet delivered to a consumer or still pending. Returns how many went.
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', 'cw:history')
if not ok then return 0 end
local delivered = nil
for _, group in ipairs(groups) do
    local info = {}
    for i = 1, #group, 2 do info[group[i]] = group[i + 1] end
    if info['name'] == 'store' then delivered = info['last-delivered-id'] end
end
if not delivered then return 0 end
local pending = redis.call('XPENDING', 'cw:history', 'store')
local keep_from
if tonumber(pending[1]) > 0 then
    keep_from = pending[2]
else
    local ms, seq = string.match(delivered, '(%d+)-(%d+)')
    keep_from = ms .. '-' .. tostring(tonumber(seq) + 1)
end
return redis.call('XTRIM', 'cw:history', 'MINID', keep_from)
"""

LEAVE_GROUP = """
-- ARGV: a node. Its consumer leaves the history group (``HISTORY_GROUP``) when nothing is
-- pending for it, in one step: a read of the consumer's cannot come between the look and the
-- deletion (which would drop what it read). A read after it makes the consumer again.
-- Returns 1 when it left, 0 when lines are pending for it.
if #redis.call('XPENDING', 'cw:history', 'store', '-', '+', 1, ARGV[1]) > 0 then
    return 0
end
redis.call('XGROUP', 'DELCONSUMER', 'cw:history', 'store', ARGV[1])
return 1
"""
