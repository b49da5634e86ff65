/** Decider specs in Emmett's form: given(events).when(command).then(events) / .thenFails(status, code). */
import { expect } from "bun:test";
import { GatewayError } from "../../src/pipeline/errors.ts";
import { decide, evolve } from "../../src/projections/config/decider.ts";
import { type ConfigCommand, type ConfigEvent, type ConfigState, initialState } from "../../src/projections/config/model.ts";

export function fold(events: ConfigEvent[]): ConfigState {
  return events.reduce<ConfigState>((s, e, i) => evolve(s, e, { time: "2026-01-01T00:00:00.000Z", actor: "test", position: i }), initialState());
}

export function given(...events: ConfigEvent[]) {
  const state = fold(events);
  return {
    state,
    when(cmd: ConfigCommand) {
      return {
        then(expected: ConfigEvent[]) {
          expect(decide(state, cmd)).toEqual(expected);
        },
        thenFails(status: number, code: string, param?: string) {
          let err: unknown;
          try {
            decide(state, cmd);
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(GatewayError);
          const g = err as GatewayError;
          expect({ status: g.status, code: g.code }).toEqual({ status, code });
          if (param) expect(g.param).toBe(param);
        },
      };
    },
  };
}
