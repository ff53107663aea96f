%% fanout (Erlang/OTP 25): the same program as bench/workloads/fanout.cpp.
%% One process (Erlang has no thread outside its processes: the main one
%% plays the plain thread) sends N small messages round robin to 60
%% processes; each keeps a running 64-bit checksum and reports it when it
%% has seen its share.
-module(bench_fanout).
-export([main/1]).

-define(ACTORS, 60).
-define(MASK, 16#FFFFFFFFFFFFFFFF).

main([NArg]) ->
    N = list_to_integer(NArg),
    Share = N div ?ACTORS,
    Sent = Share * ?ACTORS,
    Main = self(),
    Workers = [spawn(fun() -> work(0, 0, Share, Main) end) || _ <- lists:seq(1, ?ACTORS)],
    Expected = expected(0, Share, 0),
    T0 = erlang:monotonic_time(nanosecond),
    send_rounds(Workers, 0, Share),
    Checksum = collect(?ACTORS, 0),
    T1 = erlang:monotonic_time(nanosecond),
    Checksum =:= (Expected * ?ACTORS) band ?MASK orelse fail("fanout: wrong checksum"),
    S = (T1 - T0) / 1.0e9,
    io:format("BENCH fanout erlang ~B msgs_per_s=~B msgs/s elapsed_s=~.4f actors=~B~n",
              [Sent, round(Sent / S), S, ?ACTORS]),
    halt(0).

send_rounds(_Workers, I, Share) when I >= Share -> ok;
send_rounds(Workers, I, Share) ->
    [W ! {tick, I} || W <- Workers],
    send_rounds(Workers, I + 1, Share).

work(Count, Sum, Share, Main) when Count =:= Share -> Main ! {done, Sum};
work(Count, Sum, Share, Main) ->
    receive
        {tick, _} -> work(Count + 1, (Sum * 31 + 7) band ?MASK, Share, Main)
    end.

collect(0, Acc) -> Acc band ?MASK;
collect(K, Acc) ->
    receive
        {done, S} -> collect(K - 1, Acc + S)
    after 110000 -> fail("fanout: timeout")
    end.

expected(I, Share, S) when I >= Share -> S;
expected(I, Share, S) -> expected(I + 1, Share, (S * 31 + 7) band ?MASK).

fail(What) ->
    io:format(standard_error, "FAIL: ~s~n", [What]),
    halt(1).
