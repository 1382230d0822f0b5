// Colours through chalk, only when the stream is a terminal (NO_COLOR respected); plain strings otherwise.
import {Chalk} from 'chalk'

export interface Style {
  enabled: boolean
  bold(text: string): string
  dim(text: string): string
  red(text: string): string
  green(text: string): string
  yellow(text: string): string
  cyan(text: string): string
}

export function style(enabled: boolean): Style {
  const chalk = new Chalk({level: enabled ? 1 : 0})
  return {
    enabled,
    bold: (t) => chalk.bold(t),
    dim: (t) => chalk.dim(t),
    red: (t) => chalk.red(t),
    green: (t) => chalk.green(t),
    yellow: (t) => chalk.yellow(t),
    cyan: (t) => chalk.cyan(t),
  }
}
