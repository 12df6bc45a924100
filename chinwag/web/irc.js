// IRC lines in and out, and IRC text turned into safe DOM nodes.
//
// Nothing here ever builds HTML from a string: text from the network becomes text nodes
// (textContent), and IRC formatting (bold, italic, underline, colours...) becomes <span> elements
// with classes or CSSOM colours. Control characters that are not formatting are shown as their
// Unicode "control picture" (ESC as ␛), so an escape sequence is visible instead of hidden.

const TAG_ESCAPES = { ":": ";", s: " ", "\\": "\\", r: "\r", n: "\n" };

function unescapeTag(value) {
  return value.replace(/\\(.?)/g, (_, c) => (c in TAG_ESCAPES ? TAG_ESCAPES[c] : c));
}

/** Parse one IRC line into {tags, source, command, params}. */
export function parseLine(line) {
  const tags = {};
  let rest = line;
  if (rest.startsWith("@")) {
    const space = rest.indexOf(" ");
    const raw = space < 0 ? rest.slice(1) : rest.slice(1, space);
    for (const item of raw.split(";")) {
      if (!item) continue;
      const eq = item.indexOf("=");
      if (eq < 0) tags[item] = "";
      else tags[item.slice(0, eq)] = unescapeTag(item.slice(eq + 1));
    }
    rest = space < 0 ? "" : rest.slice(space + 1).replace(/^ +/, "");
  }
  let source = "";
  if (rest.startsWith(":")) {
    const space = rest.indexOf(" ");
    source = space < 0 ? rest.slice(1) : rest.slice(1, space);
    rest = space < 0 ? "" : rest.slice(space + 1).replace(/^ +/, "");
  }
  const params = [];
  while (rest) {
    if (rest.startsWith(":")) {
      params.push(rest.slice(1));
      break;
    }
    const space = rest.indexOf(" ");
    if (space < 0) {
      params.push(rest);
      break;
    }
    params.push(rest.slice(0, space));
    rest = rest.slice(space + 1).replace(/^ +/, "");
  }
  const command = (params.shift() || "").toUpperCase();
  return { tags, source, command, params };
}

/** Build a line; the last parameter becomes trailing when it needs to. Line breaks are cut. */
export function buildLine(command, ...params) {
  const clean = params.map((p) => String(p).replace(/[\r\n\0]/g, " "));
  const last = clean.length - 1;
  if (last >= 0 && (clean[last] === "" || clean[last].includes(" ") || clean[last].startsWith(":"))) {
    clean[last] = ":" + clean[last];
  }
  return [command, ...clean].join(" ");
}

/** The nick of a source (nick!user@host). */
export function nickOf(source) {
  const bang = source.indexOf("!");
  return bang < 0 ? source : source.slice(0, bang);
}

/** Fold a name for comparison the way IRC does (rfc1459: []\~ are the upper case of {}|^). */
export function fold(name, casemapping = "rfc1459") {
  const lower = name.toLowerCase();
  if (casemapping === "ascii") return lower;
  return lower.replace(/[[\]\\~]/g, (c) => ({ "[": "{", "]": "}", "\\": "|", "~": "^" })[c]);
}

// mIRC colours 0-15, then the extended 16-98.
const COLOURS = [
  "#ffffff", "#000000", "#00007f", "#009300", "#ff0000", "#7f0000", "#9c009c", "#fc7f00",
  "#ffff00", "#00fc00", "#009393", "#00ffff", "#0000fc", "#ff00ff", "#7f7f7f", "#d2d2d2",
  "#470000", "#472100", "#474700", "#324700", "#004700", "#00472c", "#004747", "#002747",
  "#000047", "#2e0047", "#470047", "#47002a", "#740000", "#743a00", "#747400", "#517400",
  "#007400", "#007449", "#007474", "#004074", "#000074", "#4b0074", "#740074", "#740045",
  "#b50000", "#b56300", "#b5b500", "#7db500", "#00b500", "#00b571", "#00b5b5", "#0063b5",
  "#0000b5", "#7500b5", "#b500b5", "#b5006b", "#ff0000", "#ff8c00", "#ffff00", "#b2ff00",
  "#00ff00", "#00ffa0", "#00ffff", "#008cff", "#0000ff", "#a500ff", "#ff00ff", "#ff0098",
  "#ff5959", "#ffb459", "#ffff71", "#cfff60", "#6fff6f", "#65ffc9", "#6dffff", "#59b4ff",
  "#5959ff", "#c459ff", "#ff66ff", "#ff59bc", "#ff9c9c", "#ffd39c", "#ffff9c", "#e2ff9c",
  "#9cff9c", "#9cffdb", "#9cffff", "#9cd3ff", "#9c9cff", "#dc9cff", "#ff9cff", "#ff94d3",
  "#000000", "#131313", "#282828", "#363636", "#4d4d4d", "#656565", "#818181", "#9f9f9f",
  "#bcbcbc", "#e2e2e2", "#ffffff",
];

const BOLD = "\x02", ITALIC = "\x1d", UNDERLINE = "\x1f", STRIKE = "\x1e", MONO = "\x11";
const REVERSE = "\x16", RESET = "\x0f", COLOUR = "\x03", HEX = "\x04";
const FLAGS = { [BOLD]: "bold", [ITALIC]: "italic", [UNDERLINE]: "underline", [STRIKE]: "strike", [MONO]: "mono", [REVERSE]: "reverse" };

function visible(text) {
  // C0 controls and DEL as control pictures (U+2400 + code; DEL is U+2421).
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => String.fromCharCode(c === "\x7f" ? 0x2421 : 0x2400 + c.charCodeAt(0)));
}

function colourAt(text, i) {
  // Up to two digits of foreground, optionally a comma and up to two digits of background.
  const match = /^(\d{1,2})(?:,(\d{1,2}))?/.exec(text.slice(i));
  if (!match) return { length: 0, fg: null, bg: null };
  return { length: match[0].length, fg: Number(match[1]), bg: match[2] === undefined ? undefined : Number(match[2]) };
}

function hexAt(text, i) {
  const match = /^([0-9a-fA-F]{6})(?:,([0-9a-fA-F]{6}))?/.exec(text.slice(i));
  if (!match) return { length: 0, fg: null, bg: null };
  return { length: match[0].length, fg: "#" + match[1], bg: match[2] === undefined ? undefined : "#" + match[2] };
}

function colourValue(code) {
  if (typeof code === "string") return code;
  return code >= 0 && code < COLOURS.length ? COLOURS[code] : null;
}

/**
 * Render IRC text as a DocumentFragment of text nodes and styled spans. Never parses HTML.
 */
export function renderText(text) {
  const fragment = document.createDocumentFragment();
  const style = { bold: false, italic: false, underline: false, strike: false, mono: false, reverse: false, fg: null, bg: null };
  let run = "";
  const flush = () => {
    if (!run) return;
    const plain = !style.bold && !style.italic && !style.underline && !style.strike && !style.mono && !style.reverse && style.fg === null && style.bg === null;
    if (plain) {
      fragment.append(document.createTextNode(visible(run)));
    } else {
      const span = document.createElement("span");
      for (const flag of ["bold", "italic", "underline", "strike", "mono", "reverse"]) {
        if (style[flag]) span.classList.add("irc-" + flag);
      }
      const fg = style.fg === null ? null : colourValue(style.fg);
      const bg = style.bg === null ? null : colourValue(style.bg);
      if (fg) span.style.color = fg; // CSSOM, not a style attribute: allowed by the page's CSP
      if (bg) span.style.backgroundColor = bg;
      span.textContent = visible(run);
      fragment.append(span);
    }
    run = "";
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c in FLAGS) {
      flush();
      style[FLAGS[c]] = !style[FLAGS[c]];
    } else if (c === RESET) {
      flush();
      Object.assign(style, { bold: false, italic: false, underline: false, strike: false, mono: false, reverse: false, fg: null, bg: null });
    } else if (c === COLOUR || c === HEX) {
      flush();
      const found = c === COLOUR ? colourAt(text, i + 1) : hexAt(text, i + 1);
      if (found.length === 0) {
        style.fg = null;
        style.bg = null;
      } else {
        style.fg = found.fg;
        if (found.bg !== undefined) style.bg = found.bg;
      }
      i += found.length;
    } else {
      run += c;
    }
  }
  flush();
  return fragment;
}

/** The text without formatting codes (for titles and notifications). */
export function stripFormatting(text) {
  return visible(
    text
      .replace(/\x03(\d{1,2}(,\d{1,2})?)?/g, "")
      .replace(/\x04([0-9a-fA-F]{6}(,[0-9a-fA-F]{6})?)?/g, "")
      .replace(/[\x02\x1d\x1f\x1e\x11\x16\x0f]/g, ""),
  );
}
