import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { insertToken, listTokens, revokeToken } from '../db/api-tokens.js';
import { connectDatabase } from '../db/connect.js';
import { migrateToLatest } from '../db/migrate.js';
import { isRole, ROLES } from '../model/role.js';
import { generateToken, hashSecret } from './credentials.js';

/**
 * `npm run token -- create --name NAME --role viewer|operator|admin` · `list` · `revoke NAME`
 * (CONTRACT §5), on the server's database (same DATABASE_URL / DATA_DIR). A created token is
 * printed once, alone on the last line of stdout; only its hash is stored. Changes apply at once.
 */

const USAGE = `usage:
  npm run token -- create --name NAME --role ${ROLES.join('|')}
  npm run token -- list
  npm run token -- revoke NAME`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, role: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    console.log(USAGE);
    return;
  }
  const config = loadConfig();
  const database = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    await migrateToLatest(database.db);
    switch (command) {
      case 'create': {
        const { name, role } = values;
        if (!name || !/^[\w.@-]{1,64}$/.test(name)) throw new UsageError('--name is required: 1 to 64 letters, digits, "_", ".", "@" or "-"');
        if (!role || !isRole(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
        const token = generateToken();
        if (!(await insertToken(database.db, { name, role, tokenHash: hashSecret(token) }))) {
          throw new UsageError(`a token named "${name}" already exists (revoked ones keep their name); choose another name`);
        }
        console.log(`created token "${name}" (${role}); it is shown once, keep it now:`);
        console.log(token);
        return;
      }
      case 'list': {
        const tokens = await listTokens(database.db);
        if (!tokens.length) console.log('no tokens yet: npm run token -- create --name NAME --role ROLE');
        for (const t of tokens) {
          console.log(`${t.name.padEnd(24)} ${t.role.padEnd(8)} created ${t.createdAt}${t.revokedAt ? `  revoked ${t.revokedAt}` : ''}`);
        }
        return;
      }
      case 'revoke': {
        const name = rest[0] ?? values.name;
        if (!name) throw new UsageError('revoke needs the token name: npm run token -- revoke NAME');
        if (!(await revokeToken(database.db, name))) throw new UsageError(`no active token named "${name}"`);
        console.log(`revoked "${name}": it and its browser sessions stop working now`);
        return;
      }
      default:
        throw new UsageError(`unknown command "${command}"\n${USAGE}`);
    }
  } finally {
    await database.close();
  }
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError || error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error((error as Error).message);
    process.exitCode = 2;
  } else {
    console.error(`token command failed: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
