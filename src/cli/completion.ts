// `chime completion bash|zsh`: a completion script for the commands, their subcommands and
// the flags every command shares. Load it with `source <(chime completion bash)`.
import { UsageError } from './usage.js';

/** Each command with its subcommands (empty: it takes none). */
export const COMMAND_TREE: Readonly<Record<string, readonly string[]>> = {
  agent: [],
  dev: [],
  cluster: ['status', 'members', 'add', 'remove', 'promote', 'demote', 'transfer-leader'],
  job: ['put', 'get', 'list', 'next', 'delete', 'pause', 'resume', 'run'],
  run: ['list', 'get', 'logs', 'kill'],
  notify: ['list', 'test'],
  apply: [],
  diff: [],
  export: [],
  backup: [],
  worker: [],
  functions: [],
  workers: [],
  token: ['create', 'list', 'revoke'],
  version: [],
  help: [],
  completion: ['bash', 'zsh'],
};

const COMMON_FLAGS = ['--server', '--output', '--json', '--utc', '--stale', '--token', '--ca', '--help'];

function bash(): string {
  const cases = Object.entries(COMMAND_TREE)
    .filter(([, subs]) => subs.length > 0)
    .map(([command, subs]) => `      ${command}) COMPREPLY=( $(compgen -W "${subs.join(' ')}" -- "$cur") ); return ;;`)
    .join('\n');
  return `# chime completion for bash: source <(chime completion bash)
_chime() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "${COMMON_FLAGS.join(' ')}" -- "$cur") ); return
  fi
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=( $(compgen -W "${Object.keys(COMMAND_TREE).join(' ')}" -- "$cur") ); return
  fi
  if [[ $COMP_CWORD -eq 2 ]]; then
    case "\${COMP_WORDS[1]}" in
${cases}
    esac
  fi
}
complete -F _chime chime
`;
}

function zsh(): string {
  const cases = Object.entries(COMMAND_TREE)
    .filter(([, subs]) => subs.length > 0)
    .map(([command, subs]) => `      ${command}) compadd ${subs.join(' ')} ;;`)
    .join('\n');
  return `#compdef chime
# chime completion for zsh: source <(chime completion zsh)
_chime() {
  if [[ "$PREFIX" == -* ]]; then compadd -- ${COMMON_FLAGS.join(' ')}; return; fi
  if (( CURRENT == 2 )); then compadd ${Object.keys(COMMAND_TREE).join(' ')}; return; fi
  if (( CURRENT == 3 )); then
    case "$words[2]" in
${cases}
    esac
  fi
}
compdef _chime chime
`;
}

export function completionScript(shell: string | undefined): string {
  if (shell === 'bash') return bash();
  if (shell === 'zsh') return zsh();
  throw new UsageError(`completion: expected bash or zsh${shell === undefined ? '' : `, got "${shell}"`}`);
}
