// The embedded MQTT broker (aedes), so that the agent works with no broker installed.
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Config } from '../config/index.js';
import { agentCredentials, brokerAuthorizer, type BrokerAuth, type BrokerCredentials } from './broker-auth.js';

export interface EmbeddedBroker {
  port: number;
  host: string;
  close(): Promise<void>;
}

/** Without `auth` the broker is open to every client: for tests that need a plain broker. */
export async function startEmbeddedBroker(options: { port: number; host: string; log: Logger; auth?: BrokerAuth }): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker({ drainTimeout: 30_000, ...(options.auth ? brokerAuthorizer(options.auth) : {}) });
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      broker.close();
      if (err.code === 'EADDRINUSE') {
        reject(
          new UserError(
            `MQTT_EMBEDDED_PORT=${options.port}: port already in use (another broker?); set MQTT_URL=mqtt://127.0.0.1:${options.port} to publish to it, or choose another MQTT_EMBEDDED_PORT`,
          ),
        );
      } else if (err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES') {
        reject(
          new UserError(`MQTT_EMBEDDED_BIND=${options.host} MQTT_EMBEDDED_PORT=${options.port}: cannot listen (${err.code}); use an address of this host and a port above 1023`),
        );
      } else reject(err);
    });
    server.listen(options.port, options.host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  options.log.info({ host: options.host, port }, 'embedded MQTT broker listening');
  return {
    port,
    host: options.host,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        broker.close(() => {});
        // Connected subscribers keep the server open; the broker's close ends them.
      }),
  };
}

/** The embedded broker as a part of the agent, when MQTT_URL is empty; `url` is where it listens once started. */
export interface EmbeddedBrokerPart {
  name: string;
  /** The agent's own credentials on it, made for this run. */
  credentials: BrokerCredentials;
  url(): string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function embeddedBroker(config: Config, log: Logger): EmbeddedBrokerPart {
  const credentials = agentCredentials();
  const trusted = config.MQTT_EMBEDDED_USERNAME && config.MQTT_EMBEDDED_PASSWORD ? { username: config.MQTT_EMBEDDED_USERNAME, password: config.MQTT_EMBEDDED_PASSWORD } : undefined;
  const options = { port: config.MQTT_EMBEDDED_PORT, host: config.MQTT_EMBEDDED_BIND, log, auth: { agent: credentials, agentClientId: config.MQTT_CLIENT_ID, trusted } };
  let broker: EmbeddedBroker | undefined;
  return {
    name: 'broker',
    credentials,
    url: () => {
      if (!broker) throw new Error('the embedded broker is not started');
      return `mqtt://${broker.host === '0.0.0.0' ? '127.0.0.1' : broker.host}:${broker.port}`;
    },
    start: async () => void (broker = await startEmbeddedBroker(options)),
    stop: async () => broker?.close(),
  };
}
