// The CS Ops board. Every card with moves has a "Move to" form: with the keyboard, or without
// JavaScript as a plain POST. Here the form posts in the background instead, and a card may also be
// dragged onto another column (the drop sends the same form). The server decides: the moved card
// comes back rendered and goes to its new column; a refused move says why, with a link to the form
// that collects what is missing (the summary and reviewer, the closing checklist). The result is
// read out from the live region, and the focus stays on the card.
(() => {
  const board = document.querySelector("[data-board]");
  const status = document.getElementById("board-status");
  if (!board || !status || !window.fetch) return;
  let dragged = null;

  const say = (text, ok, link) => {
    status.className = `board-status ${ok ? "ok" : "error"}`;
    status.textContent = text;
    if (!link) return null;
    const anchor = document.createElement("a");
    anchor.href = link;
    anchor.textContent = link.endsWith("#checklist") ? "Open the closing checklist" : "Open the feedback form";
    status.append(" ", anchor);
    return anchor;
  };

  const list = (state) => board.querySelector(`ol.cards[data-state="${state}"]`);
  const bump = (cards, by) => {
    const count = cards.closest("section").querySelector("[data-count]");
    count.textContent = String(Number(count.textContent) + by);
  };

  const send = async (form, to) => {
    const card = form.closest("li");
    const data = new FormData(form);
    if (to) data.set("move-to", to);
    let result;
    try {
      const response = await fetch(form.action, {
        method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" },
      });
      result = await response.json();
    } catch (error) {
      say("The move was not confirmed by the server: reload the page (are you still signed in?) and try again.", false);
      return;
    }
    if (!result.ok) {
      const link = say(result.message, false, result.form);
      (link || form.querySelector("select")).focus();
      return;
    }
    const from = card.parentElement;
    const target = list(result.state);
    const holder = document.createElement("template");
    holder.innerHTML = result.card.trim();
    const fresh = holder.content.firstElementChild;
    card.remove();
    target.prepend(fresh);
    bump(from, -1);
    bump(target, 1);
    wire(fresh);
    say(result.message, true);
    (fresh.querySelector("select") || fresh.querySelector("a")).focus();
  };

  const clear = () => {
    board.querySelectorAll("section.board-column").forEach((column) => {
      column.classList.remove("drop-ok", "drop-over");
    });
  };

  const wire = (card) => {
    const form = card.querySelector("form.move");
    if (!form) return;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send(form);
    });
    card.addEventListener("dragstart", (event) => {
      dragged = card;
      card.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", card.dataset.pk);
      const moves = card.dataset.moves.split(" ");
      board.querySelectorAll("section.board-column").forEach((column) => {
        if (moves.includes(column.dataset.state)) column.classList.add("drop-ok");
      });
    });
    card.addEventListener("dragend", () => {
      card.classList.remove("dragging");
      dragged = null;
      clear();
    });
  };

  board.querySelectorAll("section.board-column").forEach((column) => {
    column.addEventListener("dragover", (event) => {
      if (!dragged || dragged.dataset.state === column.dataset.state) return;
      event.preventDefault(); // any other column takes the drop: the server explains a refused move
      column.classList.add("drop-over");
    });
    column.addEventListener("dragleave", () => column.classList.remove("drop-over"));
    column.addEventListener("drop", (event) => {
      event.preventDefault();
      const card = dragged;
      clear();
      if (card) send(card.querySelector("form.move"), column.dataset.state);
    });
  });
  board.querySelectorAll("li.req-card").forEach(wire);
})();
