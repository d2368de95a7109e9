// Who may do what on the embedded broker. The agent itself connects with a secret made
// for this run and may publish anything. A client with MQTT_EMBEDDED_USERNAME and
// MQTT_EMBEDDED_PASSWORD is trusted (Home Assistant sending commands, another edgecam
// publishing here): it may publish, non-retained messages up to MAX_TRUSTED_PAYLOAD, and
// retained ones too. Anyone else may subscribe and read, and publish nothing: no fake
// telemetry, no commands, no overwritten status. No client may take the agent's id.
import { randomBytes } from 'node:crypto';
import { sameSecret } from '../secrets.js';
import type { AedesOptions, Client } from 'aedes';

export interface BrokerCredentials {
  username: string;
  password: string;
}

export interface BrokerAuth {
  /** The agent's own credentials for this run. */
  agent: BrokerCredentials;
  /** The agent's MQTT client id, which nobody else may use. */
  agentClientId: string;
  /** MQTT_EMBEDDED_USERNAME / MQTT_EMBEDDED_PASSWORD. */
  trusted?: BrokerCredentials;
}

/** Largest message a trusted client may publish (the agent's own snapshots are its business). */
export const MAX_TRUSTED_PAYLOAD = 256 * 1024;

export const agentCredentials = (): BrokerCredentials => ({ username: 'edgecam-agent', password: randomBytes(24).toString('hex') });

const refuse = (code: 2 | 4 | 5, message: string) => Object.assign(new Error(message), { returnCode: code });

export function brokerAuthorizer(auth: BrokerAuth): Pick<AedesOptions, 'authenticate' | 'authorizePublish'> {
  const roles = new WeakMap<Client, 'agent' | 'trusted'>();
  return {
    authenticate(client, username, password, done) {
      if (username === auth.agent.username) {
        if (sameSecret(auth.agent.password, password)) {
          roles.set(client, 'agent');
          return done(null, true);
        }
        return done(refuse(4, 'bad user name or password'), false);
      }
      if (client.id === auth.agentClientId) return done(refuse(2, "this client id is the agent's"), false);
      if (username !== undefined) {
        if (auth.trusted && username === auth.trusted.username && sameSecret(auth.trusted.password, password)) {
          roles.set(client, 'trusted');
          return done(null, true);
        }
        return done(refuse(4, 'bad user name or password'), false);
      }
      return done(null, true); // anonymous: may read
    },
    authorizePublish(client, packet, done) {
      const role = client ? roles.get(client) : 'agent';
      if (role === 'agent') return done(null);
      if (role === 'trusted' && packet.payload.length <= MAX_TRUSTED_PAYLOAD) return done(null);
      done(new Error(role ? 'message too large' : 'anonymous clients may not publish; set MQTT_EMBEDDED_USERNAME and MQTT_EMBEDDED_PASSWORD'));
    },
  };
}
