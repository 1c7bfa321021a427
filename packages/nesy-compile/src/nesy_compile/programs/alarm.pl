% The alarm of the DeepLog paper, section 2: it rings on a burglary or an earthquake.
0.6::burglary.
0.3::earthquake.
alarm :- burglary.
alarm :- earthquake.
% A neighbour calls when the alarm rings, or by mistake.
0.9::hears_alarm.
0.1::prank.
calls :- alarm, hears_alarm.
calls :- prank.
query(alarm).
query(calls).
